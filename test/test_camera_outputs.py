"""One camera's frame from messages to every output message (camera_outputs), on a real photo with a
synthetic aligned depth image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import load_rgb, rosbags_messages
from synthetic_depth import synthetic_depth_image

from hand_tracking_ros import HandTracker
from hand_tracking_ros.camera_outputs import (
    DEPTH_SIZE_MISMATCH,
    NO_CAMERA_INFO,
    OutputSettings,
    camera_input,
    camera_outputs,
    frame_timestamp,
)
from hand_tracking_ros.image_decoding import ImageDecodeError
from hand_tracking_ros.parameters import DEFAULTS
from hand_tracking_ros.pose import CameraIntrinsics
from hand_tracking_ros.types import DEPTH_HAND_MODEL, DEPTH_IMAGE

# The rest of this module needs rosbags (the message classes), a test dependency.
TYPESTORE, MSGS = rosbags_messages()
from hand_tracking_ros.rosbags_messages import default_message
T = TYPESTORE.types


def header(sec=5, nanosec=250_000_000):
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                    frame_id="camera_color_optical_frame")


def image_msg(rgb: np.ndarray):
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    return T["sensor_msgs/msg/Image"](header=header(), height=rgb.shape[0], width=rgb.shape[1], encoding="bgr8",
                                      is_bigendian=0, step=rgb.shape[1] * 3, data=bgr.reshape(-1))


def depth_msg(depth_mm: np.ndarray, encoding="16UC1"):
    return T["sensor_msgs/msg/Image"](header=header(), height=depth_mm.shape[0], width=depth_mm.shape[1],
                                      encoding=encoding, is_bigendian=0, step=depth_mm.shape[1] * 2,
                                      data=depth_mm.astype("<u2").view(np.uint8).reshape(-1))


@pytest.fixture(scope="module")
def scene():
    """thumbs_up.png, a camera for it, and a depth image of the hand where its hand-model pose puts it."""
    image = load_rgb("hands/thumbs_up.png")
    height, width = image.shape[:2]
    camera = CameraIntrinsics(fx=width, fy=width, cx=width / 2, cy=height / 2, width=width, height=height)
    tracker = HandTracker(static_image_mode=True)
    tracker.set_camera_intrinsics(camera)
    (hand,) = tracker.process(image)
    depth = synthetic_depth_image([hand.pose.landmarks_camera], camera, width, height, np.random.default_rng(0),
                                  background_m=hand.pose.landmarks_camera[:, 2].max() + 0.5)
    return image, camera, depth


def test_a_frame_with_its_depth_image_gives_depth_fused_hands(scene):
    image, camera, depth_mm = scene
    frame = camera_input(image_msg(image), depth_msg(depth_mm), camera)
    np.testing.assert_array_equal(frame.image, image)
    assert frame.depth_problem is None and frame.depth.dtype == np.float32
    np.testing.assert_allclose(frame.depth[depth_mm > 0], depth_mm[depth_mm > 0] / 1000.0, rtol=1e-6)

    tracker = HandTracker(static_image_mode=True)
    tracker.set_camera_intrinsics(camera, stream="cam")
    (hand,) = tracker.process_streams({"cam": frame.image}, frame_timestamp(header()),
                                      depths={"cam": frame.depth})["cam"]
    assert hand.depth_source == DEPTH_IMAGE and hand.pose.depth_landmark_count >= 12


@pytest.mark.parametrize("change, reason", [
    ("half size", DEPTH_SIZE_MISMATCH), ("no camera_info", NO_CAMERA_INFO), ("8UC1", "unsupported encoding")])
def test_a_depth_image_that_cannot_be_used_leaves_the_frame_without_depth(scene, change, reason):
    image, camera, depth_mm = scene
    depth = depth_msg(depth_mm[::2, ::2] if change == "half size" else depth_mm)
    if change == "8UC1":
        depth.encoding = "8UC1"
    frame = camera_input(image_msg(image), depth, None if change == "no camera_info" else camera)
    assert frame.depth is None and frame.depth_problem[0] == reason
    assert frame.image.shape == image.shape and "\n" not in frame.depth_problem[1]


def test_a_colour_image_that_does_not_decode_raises():
    msg = default_message(TYPESTORE, "sensor_msgs/msg/Image")
    msg.encoding, msg.width, msg.height, msg.step = "bgr8", 4, 4, 12
    with pytest.raises(ImageDecodeError, match="needs 48 bytes"):
        camera_input(msg)


def test_every_output_message_of_a_frame(scene):
    image, camera, depth_mm = scene
    tracker = HandTracker(static_image_mode=True)
    tracker.set_camera_intrinsics(camera)
    hands = tracker.process(image)
    settings = OutputSettings(annotated_image=True, tf=True, tf_prefix="front_")

    outputs = camera_outputs(MSGS, header(), image, hands, camera, settings)

    assert outputs.hands.header == outputs.poses.header == outputs.markers.markers[0].header == header()
    assert [hand.depth_source for hand in outputs.hands.hands] == [DEPTH_HAND_MODEL]
    (pose,) = outputs.poses.poses
    wrist = outputs.hands.hands[0].landmarks_camera[0]
    assert (pose.position.x, pose.position.y, pose.position.z) == pytest.approx((wrist.x, wrist.y, wrist.z))
    (transform,) = outputs.transforms.transforms
    assert transform.header == header() and transform.child_frame_id == f"front_hand_{hands[0].id}"
    assert transform.transform.translation.z == pytest.approx(wrist.z)
    assert (outputs.annotated_image["width"], outputs.annotated_image["encoding"]) == (image.shape[1], "rgb8")
    assert outputs.pose_problem is None

    quiet = camera_outputs(MSGS, header(), image, hands, camera, OutputSettings(markers=False))
    assert quiet.markers is None and quiet.transforms is None and quiet.annotated_image is None
    # No hand with a metric pose (no camera_info): no TF message at all, a NaN pose in the hand's place.
    unposed_hands = HandTracker(static_image_mode=True).process(image)
    unposed = camera_outputs(MSGS, header(), image, unposed_hands, None, settings)
    assert unposed.transforms is None and np.isnan(unposed.poses.poses[0].position.x)
    # A calibration that does not fit the image is reported (the tracker made no poses with it either).
    tiny = CameraIntrinsics(1, 1, 0.5, 0.5, width=1, height=1)
    assert "camera_info is for 1x1 images" in camera_outputs(MSGS, header(), image, unposed_hands, tiny,
                                                             settings).pose_problem


def test_settings_from_the_node_parameters():
    settings = OutputSettings.from_parameters({**DEFAULTS, "publish_tf": True, "tf_prefix": "a_", "mirrored": True})
    assert settings == OutputSettings(markers=True, annotated_image=False, assumed_depth=0.5, tf=True,
                                      tf_prefix="a_", mirrored=True)
    assert frame_timestamp(header(0, 0), fallback=3.5) == 3.5 and frame_timestamp(header()) == 5.25
