"""The hand's wrist frame in the camera frame: what PoseArray poses and TF frames (``<prefix>hand_<id>``) give.

From the 21 landmarks in the camera's optical frame (metres, ``HandPose.landmarks_camera``), a
right-handed frame in the style of REP 103:

* origin: the wrist landmark;
* x: towards the middle finger's knuckle (MCP), along the palm;
* z: out of the palm (the side the fingers curl towards), normal to the plane of the wrist and the index
  and little-finger knuckles;
* y = z cross x: across the palm, towards the little finger on a right hand and towards the thumb on a left
  hand (mirror-image hands cannot share a right-handed frame otherwise).

Which way is "out of the palm" depends on the hand's chirality in the image: pass ``right_hand`` as the
anatomical label (``Hand.handedness == "right"``), swapped when the input image is mirrored (the tracker's
``mirrored=True``: a right hand then looks like a left one).
"""

from __future__ import annotations

import numpy as np

WRIST, INDEX_MCP, MIDDLE_MCP, PINKY_MCP = 0, 5, 9, 17


def _unit(vectors: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):  # a degenerate hand gives NaN, not a warning
        return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def wrist_frames(landmarks_camera: np.ndarray, right_hand) -> tuple[np.ndarray, np.ndarray]:
    """Origins (..., 3) and rotations (..., 3, 3) (columns: the x, y, z axes in the camera frame) of the
    wrist frames of landmarks (..., 21, 3); ``right_hand`` (bool, broadcast to ...) as in the module doc.
    NaN for a degenerate hand (knuckles on one line with the wrist)."""
    points = np.asarray(landmarks_camera, np.float64)
    if points.shape[-2:] != (21, 3):
        raise ValueError(f"expected landmarks of shape (..., 21, 3), got {points.shape}")
    wrist = points[..., WRIST, :]
    x = _unit(points[..., MIDDLE_MCP, :] - wrist)
    # For a right hand, (index - wrist) x (little finger - wrist) points out of the palm (checked on
    # InterHand2.6M's labelled hands, whose fingers curl towards that side).
    normal = np.cross(points[..., INDEX_MCP, :] - wrist, points[..., PINKY_MCP, :] - wrist)
    normal = normal * np.where(np.asarray(right_hand), 1.0, -1.0)[..., None]
    z = _unit(normal - np.sum(normal * x, axis=-1, keepdims=True) * x)
    y = np.cross(z, x)
    return wrist, np.stack([x, y, z], axis=-1)
