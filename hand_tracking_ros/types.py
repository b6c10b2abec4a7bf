"""Plain data types shared by the core pipeline, the CLI and the ROS node.

Conventions (also in the README):

* Image coordinates are pixels of the source image, x to the right, y down, origin at the top-left corner
  of the top-left pixel.
* ``Hand.landmarks[:, 2]`` is MediaPipe's relative depth: roughly the same scale as ``x / image_width``,
  negative towards the camera, with the wrist near 0.
* ``Hand.world_landmarks`` are metres, origin at the hand's approximate geometric centre, axes parallel to
  the image axes (x right, y down, z away from the camera).
* Handedness is the anatomical hand as seen by an unmirrored camera (a robot camera). With
  ``mirrored=True`` (selfie-style, horizontally flipped input) the label is swapped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .finger_flexion import finger_flexion

if TYPE_CHECKING:  # pose.py needs OpenCV; only type checkers need the name here
    from .pose import HandPose

NUM_LANDMARKS = 21

# Where a hand's metric landmarks (``Hand.pose.landmarks_camera``) got their distance from, as
# HandLandmarks.depth_source: none (no metric pose), the model's average hand size (PnP, pose.py), or an
# aligned depth image (depth_fusion.py).
DEPTH_NONE = 0
DEPTH_HAND_MODEL = 1
DEPTH_IMAGE = 2

LANDMARK_NAMES = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)

# Bones of the hand skeleton as (parent, child) landmark index pairs, as MediaPipe's HAND_CONNECTIONS.
HAND_CONNECTIONS = (
    (0, 1), (1, 2), (2, 3), (3, 4),
    (0, 5), (5, 6), (6, 7), (7, 8),
    (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16),
    (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)


@dataclass(frozen=True)
class RotatedRect:
    """A rotated rectangle in image pixels; ``rotation`` in radians, clockwise on screen (y points down)."""

    center_x: float
    center_y: float
    width: float
    height: float
    rotation: float

    def as_array(self) -> np.ndarray:
        return np.array([self.center_x, self.center_y, self.width, self.height, self.rotation], np.float64)


@dataclass
class Hand:
    """One tracked hand in one frame."""

    id: int
    handedness: str            # "left" or "right", averaged over the life of the track
    handedness_score: float    # confidence of ``handedness`` in [0.5, 1]
    presence: float            # hand-presence score of the landmark model in [0, 1]
    landmarks: np.ndarray      # (21, 3) float32: x, y pixels, z relative depth (see module doc)
    world_landmarks: np.ndarray  # (21, 3) float32 metres
    rect: RotatedRect          # the crop the landmark model saw, in pixels
    frame_handedness: str = ""          # this frame's label before averaging over the track
    frame_handedness_score: float = 0.0
    gesture: str | None = None
    gesture_score: float = 0.0
    pose: HandPose | None = None  # in the camera frame; None without camera intrinsics (see pose.py)

    @property
    def depth_source(self) -> int:
        """DEPTH_NONE, DEPTH_HAND_MODEL or DEPTH_IMAGE: where ``pose``'s distance comes from."""
        if self.pose is None or not self.pose.valid:
            return DEPTH_NONE
        return DEPTH_IMAGE if self.pose.depth_landmark_count else DEPTH_HAND_MODEL

    @property
    def finger_flexion(self) -> np.ndarray:
        """(15,) joint flexion angles in radians from the world landmarks (order: finger_flexion.FLEXION_JOINTS)."""
        return finger_flexion(self.world_landmarks)
