"""Core hands -> HandLandmarksArray and RViz markers (rosbags message classes; the node uses rclpy's)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import load_rgb, rosbags_messages

from hand_tracking_ros import HAND_CONNECTIONS, HandTracker
from hand_tracking_ros.pose import CameraIntrinsics, HandPose
from hand_tracking_ros.ros_conversions import (
    MESSAGE_TYPES,
    assumed_intrinsics,
    camera_intrinsics,
    hand_landmarks,
    hand_landmarks_array,
    hand_markers,
    landmarks_in_camera,
)
# The rest of this module needs rosbags, a test dependency.
TYPESTORE, MSGS = rosbags_messages()
from hand_tracking_ros.rosbags_messages import default_message


@pytest.fixture(scope="module")
def real_hands():
    """Hands the real tracker finds in a real photo, with a gesture name set as issue 4's classifier would."""
    image = load_rgb("hands/thumbs_up.png")
    hands = HandTracker(static_image_mode=True).process(image)
    assert len(hands) == 1
    return [dataclasses.replace(hands[0], gesture="victory", gesture_score=0.875)], image.shape


def header(frame_id="camera_optical_frame", sec=12, nanosec=500):
    return TYPESTORE.types["std_msgs/msg/Header"](
        stamp=TYPESTORE.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec), frame_id=frame_id)


def test_message_types_exist_in_the_typestore():
    assert set(MESSAGE_TYPES.values()) <= set(TYPESTORE.types)


def test_hand_fields_carry_the_core_values(real_hands):
    (hand,), _ = real_hands
    msg = hand_landmarks(MSGS, hand)
    assert msg.id == hand.id
    assert msg.handedness == hand.handedness and msg.handedness_score == pytest.approx(hand.handedness_score)
    assert msg.presence == pytest.approx(hand.presence)
    np.testing.assert_allclose([[p.x, p.y, p.z] for p in msg.landmarks], hand.landmarks, rtol=1e-6)
    np.testing.assert_allclose([[p.x, p.y, p.z] for p in msg.world_landmarks], hand.world_landmarks, rtol=1e-6)
    assert (msg.rect_center_x, msg.rect_center_y, msg.rect_width, msg.rect_height, msg.rect_rotation) == \
        pytest.approx(tuple(hand.rect.as_array()))
    assert (msg.gesture, msg.gesture_score) == ("victory", 0.875)
    # No metric pose without camera intrinsics: flagged invalid, identity pose (w = 1, not rosbags' zero).
    assert not msg.pose_valid and msg.pose.orientation.w == 1.0


def test_no_gesture_is_an_empty_string(real_hands):
    (hand,), _ = real_hands
    assert hand_landmarks(MSGS, dataclasses.replace(hand, gesture=None, gesture_score=0.0)).gesture == ""


def test_array_keeps_header_and_size(real_hands):
    hands, (height, width, _) = real_hands
    msg = hand_landmarks_array(MSGS, header(), width, height, hands)
    assert (msg.header.frame_id, msg.header.stamp.sec, msg.header.stamp.nanosec) == ("camera_optical_frame", 12, 500)
    assert (msg.image_width, msg.image_height) == (width, height)
    assert len(msg.hands) == 1
    assert hand_landmarks_array(MSGS, header(), width, height, []).hands == []


def test_markers_replace_the_previous_image_and_describe_each_hand(real_hands):
    hands, (height, width, _) = real_hands
    Marker = TYPESTORE.types["visualization_msgs/msg/Marker"]
    array = hand_markers(MSGS, header(), hands, assumed_intrinsics(width, height), 0.5)
    first, *markers = array.markers
    assert first.action == Marker.DELETEALL  # stale markers of hands that are gone disappear
    assert [(m.ns, m.type, m.id) for m in markers] == [
        ("landmarks", Marker.SPHERE_LIST, hands[0].id), ("bones", Marker.LINE_LIST, hands[0].id),
        ("labels", Marker.TEXT_VIEW_FACING, hands[0].id)]
    spheres, bones, label = markers
    assert all(m.header.frame_id == "camera_optical_frame" for m in array.markers)
    assert len(spheres.points) == 21 and len(bones.points) == 2 * len(HAND_CONNECTIONS)
    assert all(m.action == Marker.ADD and m.pose.orientation.w == 1.0 for m in markers)
    assert all(m.color.a == 1.0 for m in markers) and spheres.scale.x > 0 and bones.scale.x > 0
    assert label.text == f"#{hands[0].id} right {hands[0].handedness_score:.2f} victory"
    # The label floats above the hand (y points down in the optical frame).
    assert label.pose.position.y < min(p.y for p in spheres.points)
    # And the whole array serializes as a ROS message.
    TYPESTORE.serialize_cdr(array, "visualization_msgs/msg/MarkerArray")


def test_no_hands_still_clears_the_markers():
    array = hand_markers(MSGS, header(), [], assumed_intrinsics(640, 480), 0.5)
    assert [m.action for m in array.markers] == [TYPESTORE.types["visualization_msgs/msg/Marker"].DELETEALL]


def test_back_projection_lands_on_the_pixels_at_the_assumed_depth(real_hands):
    (hand,), (height, width, _) = real_hands
    camera = CameraIntrinsics(fx=800.0, fy=810.0, cx=300.0, cy=200.0)
    xyz = landmarks_in_camera(hand, camera, assumed_depth=0.7)
    np.testing.assert_allclose(xyz[:, 2], 0.7 + hand.world_landmarks[:, 2], rtol=1e-6)
    reprojected = np.stack([xyz[:, 0] / xyz[:, 2] * camera.fx + camera.cx,
                            xyz[:, 1] / xyz[:, 2] * camera.fy + camera.cy], axis=1)
    np.testing.assert_allclose(reprojected, hand.landmarks[:, :2], atol=1e-3)


def test_assumed_camera_is_documented_webcam():
    camera = assumed_intrinsics(640, 480)
    assert (camera.fx, camera.fy, camera.cx, camera.cy, camera.distortion) == (640.0, 640.0, 320.0, 240.0, ())


def camera_info(k, d=(), model="plumb_bob", width=640, height=480):
    info = default_message(TYPESTORE, "sensor_msgs/msg/CameraInfo")
    info.k, info.d = np.array(k, float), np.array(d, float)
    info.distortion_model, info.width, info.height = model, width, height
    return info


def test_intrinsics_from_camera_info():
    camera = camera_intrinsics(camera_info([525.0, 0, 319.5, 0, 526.0, 239.5, 0, 0, 1], d=[0.1, -0.2, 0, 0, 0]))
    assert (camera.fx, camera.fy, camera.cx, camera.cy) == (525.0, 526.0, 319.5, 239.5)
    assert camera.distortion == (0.1, -0.2, 0, 0, 0) and (camera.width, camera.height) == (640, 480)


@pytest.mark.parametrize("k", [
    [0.0] * 9,                                # an uncalibrated camera driver
    [1.0, 0, 320, 0, 1.0, 240, 0, 0, 1],      # image_publisher given no field_of_view
])
def test_camera_info_without_intrinsics(k):
    assert camera_intrinsics(camera_info(k)) is None


def test_unusable_calibration_is_an_error():
    with pytest.raises(ValueError, match="distortion model"):
        camera_intrinsics(camera_info([500.0, 0, 320, 0, 500.0, 240, 0, 0, 1], d=[0.1] * 5, model="ocam"))


@pytest.mark.parametrize("model, d, message", [
    ("plumb_bob", [0.01] * 100, "plumb_bob distortion with 100 coefficients; OpenCV takes 4, 5, 8, 12, 14"),
    ("rational_polynomial", [0.1, -0.2], "rational_polynomial distortion with 2 coefficients"),
    ("equidistant", [0.1] * 5, "equidistant distortion with 5 coefficients; OpenCV takes 4"),
])
def test_distortion_of_a_length_opencv_rejects_is_refused_naming_model_and_length(model, d, message):
    with pytest.raises(ValueError, match=message):
        camera_intrinsics(camera_info([500.0, 0, 320, 0, 500.0, 240, 0, 0, 1], d=d, model=model))


def test_non_finite_calibration_is_an_error_not_an_uncalibrated_camera():
    with pytest.raises(ValueError, match="finite"):
        camera_intrinsics(camera_info([np.nan, 0, 320, 0, 500.0, 240, 0, 0, 1]))


def test_a_hand_with_a_pose_is_drawn_where_it_is(real_hands):
    """With intrinsics the real tracker fills Hand.pose; the message and the markers use it."""
    hands, (height, width, _) = real_hands
    camera = CameraIntrinsics(fx=1000.0, fy=1000.0, cx=width / 2, cy=height / 2)
    tracker = HandTracker(static_image_mode=True)
    tracker.set_camera_intrinsics(camera)
    (hand,) = tracker.process(load_rgb("hands/thumbs_up.png"))
    assert hand.pose is not None and hand.pose.valid
    msg = hand_landmarks(MSGS, hand)
    assert msg.pose_valid
    assert [msg.pose.position.x, msg.pose.position.y, msg.pose.position.z] == pytest.approx(hand.pose.position.tolist())
    quaternion = [msg.pose.orientation.x, msg.pose.orientation.y, msg.pose.orientation.z, msg.pose.orientation.w]
    assert quaternion == pytest.approx(hand.pose.orientation_xyzw.tolist())
    spheres = hand_markers(MSGS, header(), [hand], camera, assumed_depth=5.0).markers[1]
    np.testing.assert_allclose([[p.x, p.y, p.z] for p in spheres.points], hand.pose.landmarks_camera)
    assert 0.1 < hand.pose.position[2] < 3.0  # a real hand photographed from arm's length, not 5 m


def test_an_invalid_pose_is_flagged_and_not_drawn(real_hands):
    (hand,), (height, width, _) = real_hands
    failed = dataclasses.replace(hand, pose=HandPose())  # what the pose fit returns when it finds no solution
    assert not hand_landmarks(MSGS, failed).pose_valid
    xyz = landmarks_in_camera(failed, assumed_intrinsics(width, height), 0.5)
    assert np.isfinite(xyz).all() and xyz[:, 2] == pytest.approx(0.5 + hand.world_landmarks[:, 2])


def test_rosbags_constructor_refuses_unknown_fields():
    with pytest.raises(TypeError, match="no field"):
        MSGS.Marker(colour=None)


def test_default_message_matches_ros_zero_values():
    info = default_message(TYPESTORE, "sensor_msgs/msg/CameraInfo")
    assert info.k.shape == (9,) and info.k.dtype == np.float64 and info.d.shape == (0,)
    assert info.distortion_model == "" and info.roi.do_rectify is False
