"""One camera's frame, from its messages to every output message: the one path of the node and the bag command.

Per colour image of a camera:

1. ``camera_input``: the image decoded to RGB (``image_decoding``; an ImageDecodeError skips the frame),
   and the depth image matched to it (``depth_matching``) decoded to metres, used only when it can be: it
   decodes, it is registered to the colour image (the same size) and the camera's intrinsics are known.
   Otherwise the frame goes on without depth, and ``CameraInput.depth_problem`` says why.
2. The caller hands the image, the depth and ``frame_timestamp`` (this camera's own stamp, which drives
   this camera's smoothing) to ``HandTracker.process_streams``, whose stream has the camera's intrinsics
   from camera_info: the node batches all its cameras into one call, the bag command one image at a time.
3. ``camera_outputs``: every message of the frame, all with the image's header: HandLandmarksArray,
   PoseArray (one wrist pose per hand, same order), and as ``OutputSettings`` asks the MarkerArray, the
   TFMessage of the hand frames (``<tf_prefix>hand_<id>``, child of the image's frame) and the annotated
   image's fields.

ROS-free: messages are built through a ``msgs`` namespace (``ros_conversions``), rclpy's or rosbags'.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Mapping, Sequence

import numpy as np

from .depth_matching import stamp_seconds
from .drawing import draw_hands
from .image_decoding import ImageDecodeError, depth_image_to_metres, message_to_rgb, rgb_image_fields
from .pose import CameraIntrinsics
from .ros_conversions import (
    assumed_intrinsics,
    hand_landmarks_array,
    hand_markers,
    hand_poses,
    hand_transforms,
    wrist_poses,
)
from .types import Hand

# Reasons a colour frame is tracked without depth (besides image_decoding's, for a depth image that does not
# decode), short and fixed so callers can count by them.
NO_DEPTH_MATCH = "no depth image within depth_slop"
DEPTH_SIZE_MISMATCH = "depth image not registered to the colour image"
NO_CAMERA_INFO = "no camera_info for the depth image"


@dataclass(frozen=True)
class OutputSettings:
    """Which outputs a camera's frames get, and how (the node's parameters of the same meaning)."""

    markers: bool = True             # publish_markers
    annotated_image: bool = False    # publish_annotated_image
    assumed_depth: float = 0.5       # marker_assumed_depth
    tf: bool = False                 # publish_tf
    tf_prefix: str = ""              # tf_prefix
    mirrored: bool = False           # the tracker's mirrored: which way a hand frame's z points

    @classmethod
    def from_parameters(cls, values: Mapping) -> OutputSettings:
        """From the node's parameter values (``parameters``)."""
        return cls(markers=values["publish_markers"], annotated_image=values["publish_annotated_image"],
                   assumed_depth=values["marker_assumed_depth"], tf=values["publish_tf"],
                   tf_prefix=values["tf_prefix"], mirrored=values["mirrored"])


@dataclass
class CameraInput:
    """A colour frame ready for the tracker."""

    image: np.ndarray                   # (H, W, 3) uint8 RGB
    depth: np.ndarray | None = None     # (H, W) float32 metres, NaN where nothing was measured
    depth_problem: tuple[str, str] | None = None  # (reason, one-line message): why a depth image is not used


@dataclass
class CameraOutputs:
    """Every output message of one frame; None for an output the settings leave out (or, for ``transforms``,
    when no hand has a metric pose: tf has nothing to take)."""

    hands: object                      # HandLandmarksArray
    poses: object                      # PoseArray
    markers: object | None             # MarkerArray
    transforms: object | None          # TFMessage
    annotated_image: dict | None       # the fields of a sensor_msgs/Image but its header (rgb8)
    pose_problem: str | None = None    # why the camera's calibration gave no metric poses for this image


def frame_timestamp(header, fallback: float | None = None) -> float | None:
    """The image's stamp in seconds for the tracker, or ``fallback`` for an unstamped (zero) image."""
    stamp = stamp_seconds(header)
    return stamp if stamp > 0 else fallback


def camera_input(image_msg, depth_msg=None, calibration: CameraIntrinsics | None = None) -> CameraInput:
    """Step 1 of the module doc: ``image_msg`` (Image or CompressedImage) decoded, with the depth image of
    ``depth_msg`` (sensor_msgs/Image, 16UC1 or 32FC1; None: no depth for this frame) where it can be used
    with ``calibration`` (the camera's intrinsics from camera_info, None without). Raises ImageDecodeError
    for a colour image that cannot be decoded; a depth image that cannot be used is ``depth_problem``."""
    image = message_to_rgb(image_msg)
    if depth_msg is None:
        return CameraInput(image)
    try:
        depth = depth_image_to_metres(depth_msg)
    except ImageDecodeError as error:
        return CameraInput(image, depth_problem=(error.reason, f"depth image not used: {error}"))
    if depth.shape != image.shape[:2]:
        return CameraInput(image, depth_problem=(DEPTH_SIZE_MISMATCH, (
            f"depth image is {depth.shape[1]}x{depth.shape[0]}, the colour image {image.shape[1]}x{image.shape[0]}: "
            "the depth topic must be registered to the colour camera (RealSense: aligned_depth_to_color)")))
    if calibration is None:
        return CameraInput(image, depth_problem=(NO_CAMERA_INFO, (
            "no usable camera_info for this camera yet: depth needs the colour camera's intrinsics")))
    return CameraInput(image, depth)


def camera_outputs(msgs: SimpleNamespace, header, image_rgb: np.ndarray, hands: Sequence[Hand],
                   calibration: CameraIntrinsics | None, settings: OutputSettings) -> CameraOutputs:
    """Step 3 of the module doc: every output message of one frame. ``header`` is the image's;
    ``calibration`` the camera's intrinsics as the tracker has them (for the markers of hands without a
    pose, resized to this image; None: an assumed webcam)."""
    height, width = image_rgb.shape[:2]
    intrinsics = calibration.for_image_size(width, height) if calibration is not None else None
    pose_problem = None
    if calibration is not None and intrinsics is None:  # the tracker made no poses with it either
        pose_problem = (f"camera_info is for {calibration.width}x{calibration.height} images, this one is "
                        f"{width}x{height} and no resize of it: no hand poses")
    frames = wrist_poses(hands, settings.mirrored)  # once for the poses and the tf frames
    transforms = None
    if settings.tf:
        transforms = hand_transforms(msgs, header, hands, settings.tf_prefix, frames=frames)
        transforms = transforms if transforms.transforms else None
    return CameraOutputs(
        hands=hand_landmarks_array(msgs, header, width, height, hands),
        poses=hand_poses(msgs, header, hands, frames=frames),
        markers=(hand_markers(msgs, header, hands, intrinsics or assumed_intrinsics(width, height),
                              settings.assumed_depth) if settings.markers else None),
        transforms=transforms,
        annotated_image=rgb_image_fields(draw_hands(image_rgb, list(hands))) if settings.annotated_image else None,
        pose_problem=pose_problem)

