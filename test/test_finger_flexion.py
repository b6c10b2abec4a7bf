"""Finger joint flexion angles: exact on constructed hands, plausible on real photos and ground-truth 3D hands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import DATA_DIR, load_rgb

from hand_tracking_ros import HandTracker
from hand_tracking_ros.finger_flexion import FLEXION_JOINTS, NUM_FLEXION_JOINTS, finger_flexion

# Index of each finger's PIP and DIP flexion (index, middle, ring, little finger).
FINGER_PIP_DIP = [FLEXION_JOINTS.index(f"{finger}_{joint}") for finger in ("index", "middle", "ring", "pinky")
                  for joint in ("pip", "dip")]


PALM_NORMAL = np.array([0.0, 0.0, 1.0])


def flat_hand() -> np.ndarray:
    """A flat hand in the x-y plane (the palm's normal along z), each finger straight along its metacarpal
    (from the wrist at the origin to its MCP), so the fingers fan out as in a relaxed open hand."""
    points = np.zeros((21, 3))
    points[1:5] = [[0.02, -0.02, 0], [0.04, -0.04, 0], [0.055, -0.055, 0], [0.07, -0.07, 0]]  # thumb
    for finger, x in enumerate((0.025, 0.005, -0.015, -0.033)):
        mcp = 5 + 4 * finger
        points[mcp] = [x, -0.09, 0]
        for joint in range(1, 4):
            points[mcp + joint] = points[mcp] * (1 + 0.28 * joint)
    return points


def bend(points: np.ndarray, joint: int, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotate the landmarks after ``joint`` up to its finger's tip about ``axis`` through ``joint``."""
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rotation = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k
    tip = (joint - 1) // 4 * 4 + 4  # finger k is landmarks 4k + 1 .. 4k + 4
    bent = points.copy()
    bent[joint + 1:tip + 1] = (points[joint + 1:tip + 1] - points[joint]) @ rotation.T + points[joint]
    return bent


def flexion_axis(points: np.ndarray, joint: int) -> np.ndarray:
    """The axis a finger curls about at ``joint``: across the finger, in the palm's plane."""
    return np.cross(points[joint + 1] - points[joint], PALM_NORMAL)


def test_order_and_count():
    assert NUM_FLEXION_JOINTS == 15 and len(set(FLEXION_JOINTS)) == 15
    assert FLEXION_JOINTS[:3] == ("thumb_cmc", "thumb_mcp", "thumb_ip")
    assert FLEXION_JOINTS[3:] == tuple(f"{finger}_{joint}" for finger in ("index", "middle", "ring", "pinky")
                                       for joint in ("mcp", "pip", "dip"))


@pytest.mark.parametrize("joint_name, landmark", [("index_mcp", 5), ("index_pip", 6), ("middle_dip", 11),
                                                  ("ring_pip", 14), ("pinky_mcp", 17)])
def test_a_straight_hand_reads_zero_and_one_curled_joint_its_angle(joint_name, landmark):
    hand = flat_hand()
    straight = finger_flexion(hand)
    np.testing.assert_allclose(straight[3:], 0.0, atol=1e-9)
    curled = finger_flexion(bend(hand, landmark, flexion_axis(hand, landmark), np.radians(70)))
    expected = straight.copy()
    expected[FLEXION_JOINTS.index(joint_name)] = np.radians(70)
    np.testing.assert_allclose(curled, expected, atol=1e-9)


def test_sideways_swings_at_the_knuckle_are_not_flexion():
    hand = flat_hand()
    spread = bend(hand, 5, PALM_NORMAL, np.radians(20))  # the index swings away from the middle finger
    assert finger_flexion(spread)[FLEXION_JOINTS.index("index_mcp")] == pytest.approx(0.0, abs=1e-9)
    # Curled by 40 degrees after the swing: only the curl counts.
    curled = bend(spread, 5, flexion_axis(spread, 5), np.radians(40))
    assert np.degrees(finger_flexion(curled)[FLEXION_JOINTS.index("index_mcp")]) == pytest.approx(40, abs=0.5)


def test_shapes_and_degenerate_input():
    hands = np.stack([flat_hand(), bend(flat_hand(), 6, flexion_axis(flat_hand(), 6), 1.0)])
    angles = finger_flexion(hands.astype(np.float32))
    assert angles.shape == (2, 15)
    np.testing.assert_allclose(angles[1], finger_flexion(hands[1]), atol=1e-6)
    np.testing.assert_array_equal(finger_flexion(np.zeros((21, 3))), np.zeros(15))
    with pytest.raises(ValueError, match="21, 3"):
        finger_flexion(np.zeros((21, 2)))


def test_real_photos_open_hands_against_curled_fingers():
    tracker = HandTracker(static_image_mode=True, max_num_hands=2)
    hands = {name: tracker.process(load_rgb(name)) for name in (
        "hands/assorted/0.jpg", "hands/assorted/4.jpg", "hands/hand_left.jpg", "hands/thumb_up_2.jpg",
        "hands/thumbs_up.png")}
    open_hands = [hand for name in ("hands/assorted/0.jpg", "hands/assorted/4.jpg") for hand in hands[name]]
    curled = [hand for name in ("hands/hand_left.jpg", "hands/thumb_up_2.jpg", "hands/thumbs_up.png")
              for hand in hands[name]]
    assert len(open_hands) == 4 and len(curled) == 3
    for hand in open_hands:  # measured: 15-20 degrees on average over the PIP and DIP joints
        assert np.degrees(hand.finger_flexion[FINGER_PIP_DIP]).mean() < 35
    for hand in curled:  # measured: 75-85 degrees
        assert np.degrees(hand.finger_flexion[FINGER_PIP_DIP]).mean() > 55
        np.testing.assert_array_equal(hand.finger_flexion, finger_flexion(hand.world_landmarks))


def test_ground_truth_hands_praying_are_flat_and_thumbs_up_is_curled():
    """InterHand2.6M's triangulated 3D joints (labelled_dev): real hands, not a model's guess."""
    labels = json.loads((DATA_DIR / "labelled_dev" / "labels.json").read_text())
    praying = [finger_flexion(np.array(hand["camera_xyz_m"])) for hand in labels["interhand_image44669.jpg"]]
    for angles in praying:  # palms pressed together: measured at most 11 degrees at any finger joint
        assert np.degrees(angles[3:]).max() < 20
    thumbs_up = finger_flexion(np.array(labels["interhand_image2017.jpg"][0]["camera_xyz_m"]))
    pips = [FLEXION_JOINTS.index(f"{finger}_pip") for finger in ("index", "middle", "ring", "pinky")]
    assert np.degrees(thumbs_up[pips]).min() > 55  # measured: 75-83 degrees
