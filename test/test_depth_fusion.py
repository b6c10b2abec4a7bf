"""RGB-D depth fusion on real hand photos, with a synthetic aligned depth image of a known true hand.

No RGB-D recording with ground truth is available, so each real photo goes through the real tracker and the
true hand is built from what it found: a camera whose hand-model pose (PnP with the model's average hand
size) puts the wrist at 0.5 m for a hand 1.1 times the model's, then that hand: each landmark on its pixel's
ray at 1.1 times the hand-model depth, which puts the wrist at 0.55 m and keeps the image landmarks exact. The
hand-model pose is then off by 10 % of the distance (5 cm), as it is whenever a real hand is not the model's
average one. benchmarks/synthetic_depth.py renders the depth image from that hand: skin capsules, a
background plane, noise and holes. benchmarks/depth_accuracy.py measures the same on ground-truth 3D hands.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import load_rgb
from synthetic_depth import synthetic_depth_image

from hand_tracking_ros import HandTracker
from hand_tracking_ros.depth_fusion import fuse_depth
from hand_tracking_ros.pose import CameraIntrinsics, _normalized_points, estimate_hand_pose
from hand_tracking_ros.types import DEPTH_HAND_MODEL, DEPTH_IMAGE, DEPTH_NONE

# Open hands, thumbs up with the fingers curled over each other (self-occlusion), two hands in one photo.
PHOTOS = ("hands/hand_left.jpg", "hands/thumb_up_2.jpg", "hands/thumbs_up.png", "hands/assorted/0.jpg",
          "hands/assorted/4.jpg", "hands/assorted/9.jpg")
TIPS = [4, 8, 12, 16, 20]
WRIST_DISTANCE_M = 0.55
HAND_SCALE = 1.1  # the true hand over the model's average hand
BACKGROUND_M = 1.0


class Scene:
    """A real photo's hand as the tracker found it, its true 3D landmarks and the camera that sees them."""

    def __init__(self, name: str, image: np.ndarray, hand):
        self.name, self.hand = name, hand
        self.height, self.width = image.shape[:2]
        webcam = CameraIntrinsics(fx=self.width, fy=self.width, cx=self.width / 2, cy=self.height / 2,
                                  width=self.width, height=self.height)
        wrist_depth = estimate_hand_pose(hand.world_landmarks, hand.landmarks, webcam).landmarks_camera[0, 2]
        focal = self.width * WRIST_DISTANCE_M / (HAND_SCALE * wrist_depth)
        self.camera = replace(webcam, fx=focal, fy=focal)
        self.model_pose = estimate_hand_pose(hand.world_landmarks, hand.landmarks, self.camera)
        pixels = np.ascontiguousarray(hand.landmarks[:, :2], np.float64)
        rays = np.column_stack([_normalized_points(pixels, self.camera), np.ones(21)])
        self.truth = rays * HAND_SCALE * self.model_pose.landmarks_camera[:, 2:3]
        self.size_px = float(np.ptp(pixels, axis=0).max())

    def depth(self, seed: int, dtype=np.uint16, holes_at=()) -> np.ndarray:
        return synthetic_depth_image([self.truth], self.camera, self.width, self.height, np.random.default_rng(seed),
                                     background_m=BACKGROUND_M, holes_at=holes_at, dtype=dtype)

    def discs(self, landmarks, radius_fraction: float = 0.06) -> tuple:
        """Discs (x, y, radius px) around these landmarks, wider than the sampling window."""
        return tuple((*self.hand.landmarks[i, :2], radius_fraction * self.size_px) for i in landmarks)

    def covered(self, landmarks, radius_fraction: float) -> np.ndarray:
        """Mask of the image's pixels inside ``discs(landmarks, radius_fraction)``."""
        columns, rows = np.meshgrid(np.arange(self.width) + 0.5, np.arange(self.height) + 0.5)
        return np.any([np.hypot(columns - x, rows - y) < radius
                       for x, y, radius in self.discs(landmarks, radius_fraction)], axis=0)

    def fuse(self, depth: np.ndarray):
        return fuse_depth(self.hand.world_landmarks, self.hand.landmarks, self.camera, depth)

    def errors(self, landmarks_camera: np.ndarray) -> np.ndarray:
        return np.linalg.norm(landmarks_camera - self.truth, axis=1)


@pytest.fixture(scope="module")
def scenes() -> list[Scene]:
    tracker = HandTracker(static_image_mode=True, max_num_hands=2)
    found = [Scene(name, image, hand) for name in PHOTOS for image in [load_rgb(name)]
             for hand in tracker.process(image)]
    assert len(found) >= 8
    return found


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_wrist_and_fingertips_within_a_centimetre_or_two(scenes, dtype):
    for seed, scene in enumerate(scenes):
        pose = scene.fuse(scene.depth(seed, dtype))
        assert pose is not None and pose.valid, scene.name
        errors = scene.errors(pose.landmarks_camera)
        # Measured: wrist at most 0.4 cm, fingertips at most 0.3 cm off.
        assert errors[0] < 0.01, (scene.name, errors[0])
        assert (errors[TIPS] < 0.02).all(), (scene.name, errors[TIPS])
        # The hand model alone is 10 % of the distance off; the depth image measures the hand's real size.
        assert scene.errors(scene.model_pose.landmarks_camera)[0] > 0.04
        assert pose.scale == pytest.approx(HAND_SCALE, abs=0.1), scene.name
        assert pose.depth_landmark_count >= 12, scene.name  # curled fingers hide a few knuckles


def test_hidden_fingertips_follow_their_fingers(scenes):
    """No depth under any fingertip (dark nails, specular skin, thin fingers at the edge of a stereo
    camera's range): the fit still places them."""
    for seed, scene in enumerate(scenes):
        pose = scene.fuse(scene.depth(seed, holes_at=scene.discs(TIPS)))
        assert pose is not None, scene.name
        errors = scene.errors(pose.landmarks_camera)
        assert (errors[TIPS] < 0.03).all(), (scene.name, errors[TIPS])  # measured: at most 0.2 cm
        assert errors[0] < 0.01, scene.name
        assert pose.depth_landmark_count <= 16, scene.name  # the 5 fingertips have no depth to count


def test_an_object_in_front_of_two_fingers_is_not_taken_for_them(scenes):
    scene = scenes[3]  # an open hand
    object_depth = scene.truth[:, 2].min() - 0.1  # 10 cm in front of the hand
    pose = scene.fuse(np.where(scene.covered([7, 8, 11, 12], 0.1), np.uint16(round(object_depth * 1000)),
                               scene.depth(0)))
    errors = scene.errors(pose.landmarks_camera)
    assert (errors[[7, 8, 11, 12]] < 0.03).all(), errors[[7, 8, 11, 12]]
    assert errors[0] < 0.01
    assert pose.depth_landmark_count <= 17


def test_without_usable_depth_the_hand_model_pose_stays(scenes):
    scene = scenes[0]
    shape = (scene.height, scene.width)
    assert scene.fuse(np.zeros(shape, np.uint16)) is None
    assert scene.fuse(np.full(shape, np.nan, np.float32)) is None
    # Depth under only three landmarks: too few to fit a hand.
    assert scene.fuse(np.where(scene.covered([0, 5, 17], 0.04), scene.depth(0), 0)) is None
    # A wall 2 m away where the hand should be (a depth image not registered to the colour image, or the
    # hand out of the depth camera's view): it would take a hand three times the model's size.
    assert scene.fuse(np.full(shape, 2000, np.uint16)) is None
    # A 32FC1 image holding millimetres: a hand a thousand times too large.
    assert scene.fuse(scene.depth(0, np.float32) * 1000) is None


def test_bad_depth_images_say_what_is_wrong(scenes):
    scene = scenes[0]
    with pytest.raises(ValueError, match="uint16 millimetres"):
        scene.fuse(np.zeros((scene.height, scene.width), np.int32))
    with pytest.raises(ValueError, match="registered to the colour camera"):
        scene.fuse(np.zeros((scene.height // 2, scene.width // 2), np.uint16))
    with pytest.raises(ValueError, match="shape"):
        scene.fuse(np.zeros((scene.height, scene.width, 3), np.uint16))


def test_single_channel_images_and_unknown_image_size_work_alike(scenes):
    scene = scenes[1]
    depth = scene.depth(1)
    reference = scene.fuse(depth)
    np.testing.assert_array_equal(scene.fuse(depth[..., None]).landmarks_camera, reference.landmarks_camera)
    unsized = replace(scene.camera, width=0, height=0)
    np.testing.assert_array_equal(
        fuse_depth(scene.hand.world_landmarks, scene.hand.landmarks, unsized, depth).landmarks_camera,
        reference.landmarks_camera)


def test_depth_source_of_a_hand(scenes):
    scene = scenes[0]
    hand = replace(scene.hand, pose=None)
    assert hand.depth_source == DEPTH_NONE
    hand.pose = scene.model_pose
    assert hand.depth_source == DEPTH_HAND_MODEL
    hand.pose = scene.fuse(scene.depth(0))
    assert hand.depth_source == DEPTH_IMAGE


def test_the_tracker_fuses_each_streams_own_depth_image(scenes):
    """process_streams(depths=...): the stream with a depth image gets depth-fused poses, the other the
    hand-model pose; a depth image of the wrong size is counted and leaves the hand-model pose."""
    first, second = scenes[0], scenes[1]
    assert (first.name, second.name) == PHOTOS[:2]  # one hand each: the tracker finds the same hand again
    tracker = HandTracker(static_image_mode=True, max_num_hands=2)
    images = {"rgbd": load_rgb(first.name), "rgb": load_rgb(second.name)}
    tracker.set_camera_intrinsics(first.camera, stream="rgbd")
    tracker.set_camera_intrinsics(second.camera, stream="rgb")

    hands = tracker.process_streams(images, depths={"rgbd": first.depth(0)})

    (fused,), (model,) = hands["rgbd"], hands["rgb"]
    assert fused.depth_source == DEPTH_IMAGE and model.depth_source == DEPTH_HAND_MODEL
    assert first.errors(fused.pose.landmarks_camera)[0] < 0.01
    assert second.errors(model.pose.landmarks_camera)[0] > 0.04  # the model's average hand size
    assert tracker.depth_errors == {}

    unregistered = first.depth(0)[::2, ::2]
    (hand,) = tracker.process_streams({"rgbd": images["rgbd"]}, depths={"rgbd": unregistered})["rgbd"]
    assert hand.depth_source == DEPTH_HAND_MODEL and tracker.depth_errors == {"rgbd": 1}


def test_the_tracker_refuses_bad_depth_arguments_before_running(scenes):
    tracker = HandTracker(static_image_mode=True)
    image = load_rgb(scenes[0].name)
    for depths, message in (({None: np.zeros((4, 4), np.int32)}, "uint16 millimetres or float metres"),
                            ({None: [[1.0]]}, "numpy array"),
                            ({None: np.zeros((4, 4, 3), np.uint16)}, r"shape \(H, W\)"),
                            ({"other": np.zeros((4, 4), np.uint16)}, "has no image")):
        with pytest.raises(ValueError, match=message):
            tracker.process_streams({None: image}, depths=depths)
    assert tracker.detector_runs == 0
