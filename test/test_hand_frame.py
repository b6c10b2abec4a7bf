"""The wrist frame (TF and PoseArray): right-handed, x to the middle knuckle, z out of the palm, on
ground-truth 3D hands (InterHand2.6M and RHD joints in labelled_dev)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import DATA_DIR

from hand_tracking_ros.finger_flexion import FLEXION_JOINTS, finger_flexion
from hand_tracking_ros.hand_frame import wrist_frames

PIPS = [FLEXION_JOINTS.index(f"{finger}_pip") for finger in ("index", "middle", "ring", "pinky")]


@pytest.fixture(scope="module")
def labelled_hands() -> dict:
    labels = json.loads((DATA_DIR / "labelled_dev" / "labels.json").read_text())
    return {name: [(hand["handedness"], np.array(hand["camera_xyz_m"])) for hand in hands]
            for name, hands in labels.items()}


def test_axes_are_right_handed_with_x_to_the_middle_knuckle(labelled_hands):
    for name, hands in labelled_hands.items():
        for handedness, points in hands:
            origin, rotation = wrist_frames(points, handedness == "right")
            np.testing.assert_allclose(origin, points[0])
            np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
            assert np.linalg.det(rotation) == pytest.approx(1.0)
            to_knuckle = points[9] - points[0]
            np.testing.assert_allclose(rotation[:, 0], to_knuckle / np.linalg.norm(to_knuckle), atol=1e-12)


def test_z_points_out_of_the_palm(labelled_hands):
    """Fingers curl towards the palm's side: with curled fingers, the fingertips lie at z > 0."""
    curled = 0
    for name, hands in labelled_hands.items():
        for handedness, points in hands:
            if np.degrees(finger_flexion(points)[PIPS]).mean() < 40:
                continue
            curled += 1
            origin, rotation = wrist_frames(points, handedness == "right")
            tips_in_frame = (points[[8, 12, 16, 20]] - origin) @ rotation
            assert (tips_in_frame[:, 2] > 0.01).all(), (name, handedness, tips_in_frame[:, 2])  # measured >= 2 cm
            # The wrong chirality puts them behind the palm.
            _, mirrored = wrist_frames(points, handedness != "right")
            assert ((points[[8, 12, 16, 20]] - origin) @ mirrored)[:, 2].max() < 0
    assert curled >= 4


def test_praying_palms_face_each_other(labelled_hands):
    (right_label, right), (left_label, left) = labelled_hands["interhand_image44669.jpg"]
    assert (right_label, left_label) == ("right", "left")
    _, right_axes = wrist_frames(right, True)
    _, left_axes = wrist_frames(left, False)
    assert right_axes[:, 2] @ left_axes[:, 2] < -0.5  # measured: -0.83 (the palms are not quite parallel)
    assert (left.mean(axis=0) - right.mean(axis=0)) @ right_axes[:, 2] > 0  # the right palm faces the left hand


def test_a_mirrored_hand_gets_the_mirrored_frame(labelled_hands):
    _, points = labelled_hands["interhand_image2017.jpg"][0]
    mirror = np.diag([-1.0, 1.0, 1.0])
    _, rotation = wrist_frames(points, True)
    _, mirrored = wrist_frames(points @ mirror, False)  # a right hand seen in a mirror looks like a left hand
    np.testing.assert_allclose(mirrored[:, 0], mirror @ rotation[:, 0], atol=1e-12)
    np.testing.assert_allclose(mirrored[:, 2], mirror @ rotation[:, 2], atol=1e-12)
    np.testing.assert_allclose(mirrored[:, 1], -mirror @ rotation[:, 1], atol=1e-12)  # y = z x x flips


def test_batches_and_degenerate_hands(labelled_hands):
    hands = np.stack([points for hands in labelled_hands.values() for _, points in hands])
    right = np.array([label == "right" for hands in labelled_hands.values() for label, _ in hands])
    origins, rotations = wrist_frames(hands, right)
    assert origins.shape == (len(hands), 3) and rotations.shape == (len(hands), 3, 3)
    np.testing.assert_allclose(rotations[3], wrist_frames(hands[3], right[3])[1])
    assert np.isnan(wrist_frames(np.zeros((21, 3)), True)[1]).all()
    with pytest.raises(ValueError, match="21, 3"):
        wrist_frames(np.zeros((20, 3)), True)
