"""msg/*.msg: they parse, carry the fields the issue names, and round-trip through rosbags (no ROS needed)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
# The rest of this module needs rosbags, a test dependency.
pytest.importorskip("rosbags", reason="rosbags is not installed (pip install -e \".[test]\")")
from rosbags.interfaces import Nodetype
from conftest import REPO_ROOT, load_rgb
from synthetic_depth import synthetic_depth_image

from hand_tracking_ros import LANDMARK_NAMES, HandTracker
from hand_tracking_ros.depth_fusion import fuse_depth
from hand_tracking_ros.finger_flexion import FLEXION_JOINTS, NUM_FLEXION_JOINTS
from hand_tracking_ros.hand_frame import wrist_frames
from hand_tracking_ros.pose import CameraIntrinsics
from hand_tracking_ros.ros_conversions import hand_landmarks_array, hand_poses, hand_transforms
from hand_tracking_ros.rosbags_messages import (
    default_message,
    find_msg_dir,
    load_message_types,
    make_typestore,
    message_namespace,
)
from hand_tracking_ros.types import DEPTH_HAND_MODEL, DEPTH_IMAGE, DEPTH_NONE

HAND = "hand_tracking_ros/msg/HandLandmarks"
ARRAY = "hand_tracking_ros/msg/HandLandmarksArray"


@pytest.fixture(scope="module")
def real_hands():
    """Hands the real tracker finds in a real photo (one right hand, thumbs up)."""
    hands = HandTracker(static_image_mode=True).process(load_rgb("hands/thumbs_up.png"))
    assert len(hands) == 1
    return hands


@pytest.mark.parametrize("distro", ["humble", "jazzy"])
def test_types_are_registered_from_our_own_msg_files(distro):
    # From a checkout that is REPO_ROOT/msg; with the package installed (colcon, pip) it is the installed
    # copy: either way the same files.
    found = find_msg_dir()
    assert {path.name: path.read_bytes() for path in found.glob("*.msg")} == \
        {path.name: path.read_bytes() for path in (REPO_ROOT / "msg").glob("*.msg")}
    assert set(load_message_types()) == {HAND, ARRAY}
    typestore = make_typestore(distro)
    assert {HAND, ARRAY} <= set(typestore.types)


def test_hand_landmarks_fields_are_the_contract():
    constants, fields = make_typestore().fielddefs[HAND]
    described = {name: desc for name, desc in fields}
    assert list(described) == [
        "id", "handedness", "handedness_score", "presence", "landmarks", "world_landmarks",
        "rect_center_x", "rect_center_y", "rect_width", "rect_height", "rect_rotation",
        "gesture", "gesture_score", "pose", "pose_valid",
        "landmarks_camera", "depth_source", "depth_landmark_count", "finger_flexion"]
    # Exactly 21 points per landmark set: a fixed-size array, not a sequence.
    for name in ("landmarks", "world_landmarks", "landmarks_camera"):
        assert described[name] == (Nodetype.ARRAY, ((Nodetype.NAME, "geometry_msgs/msg/Point"), 21))
    assert described["pose"] == (Nodetype.NAME, "geometry_msgs/msg/Pose")
    assert described["pose_valid"] == (Nodetype.BASE, ("bool", 0))
    assert described["depth_source"] == described["depth_landmark_count"] == (Nodetype.BASE, ("uint8", 0))
    assert described["finger_flexion"] == (Nodetype.ARRAY, ((Nodetype.BASE, ("float32", 0)), 15))
    # The index constants name the landmarks in the core's order.
    indices = {name: value for name, _, value in constants
               if name not in ("NUM_LANDMARKS", "LEFT", "RIGHT", "NUM_FLEXION_JOINTS")
               and not name.startswith(("DEPTH_", "FLEXION_"))}
    assert [name.lower() for name, _ in sorted(indices.items(), key=lambda item: item[1])] == list(LANDMARK_NAMES)
    assert ("NUM_LANDMARKS", "uint8", 21) in constants
    assert {(name, value) for name, _, value in constants if name in ("LEFT", "RIGHT")} == {
        ("LEFT", "left"), ("RIGHT", "right")}


def test_depth_and_flexion_constants_are_the_cores():
    constants = {name: value for name, _, value in make_typestore().fielddefs[HAND][0]}
    assert (constants["DEPTH_NONE"], constants["DEPTH_HAND_MODEL"], constants["DEPTH_IMAGE"]) == (
        DEPTH_NONE, DEPTH_HAND_MODEL, DEPTH_IMAGE)
    assert constants["NUM_FLEXION_JOINTS"] == NUM_FLEXION_JOINTS == 15
    flexion = {name[len("FLEXION_"):].lower(): value for name, value in constants.items()
               if name.startswith("FLEXION_")}
    assert [name for name, _ in sorted(flexion.items(), key=lambda item: item[1])] == list(FLEXION_JOINTS)


def test_array_has_header_size_and_hands():
    _, fields = make_typestore().fielddefs[ARRAY]
    assert fields == [
        ("header", (Nodetype.NAME, "std_msgs/msg/Header")),
        ("image_width", (Nodetype.BASE, ("uint32", 0))),
        ("image_height", (Nodetype.BASE, ("uint32", 0))),
        ("hands", (Nodetype.SEQUENCE, ((Nodetype.NAME, HAND), 0))),
    ]


def test_every_msg_field_has_a_comment_with_units_or_meaning():
    for path in sorted((REPO_ROOT / "msg").glob("*.msg")):
        lines = path.read_text().splitlines()
        for index, line in enumerate(lines):
            if line and not line.startswith("#") and "=" not in line:  # a field, not a constant or comment
                block = lines[max(0, index - 8):index]
                assert any(previous.startswith("#") for previous in block), f"{path.name}: {line!r} is not explained"


@pytest.mark.parametrize("distro", ["humble", "jazzy"])
def test_real_hand_round_trips_through_cdr(real_hands, distro):
    typestore = make_typestore(distro)
    msgs = message_namespace(typestore)
    header = typestore.types["std_msgs/msg/Header"](
        stamp=typestore.types["builtin_interfaces/msg/Time"](sec=1700000000, nanosec=123456789),
        frame_id="camera_optical_frame")
    original = hand_landmarks_array(msgs, header, 640, 480, real_hands)
    raw = typestore.serialize_cdr(original, ARRAY)
    decoded = typestore.deserialize_cdr(raw, ARRAY)
    assert typestore.serialize_cdr(decoded, ARRAY) == raw
    assert decoded.header.stamp.nanosec == 123456789 and decoded.header.frame_id == "camera_optical_frame"
    hand, source = decoded.hands[0], real_hands[0]
    assert len(hand.landmarks) == 21 and len(hand.world_landmarks) == 21
    np.testing.assert_allclose([[p.x, p.y, p.z] for p in hand.landmarks], source.landmarks, rtol=1e-6)
    assert hand.handedness == source.handedness == "right"
    assert hand.handedness_score == pytest.approx(source.handedness_score, rel=1e-6)  # float32 in the message
    assert hand.id == source.id and not hand.pose_valid
    # No camera_info: no metric landmarks, but the finger angles need only the world landmarks.
    assert hand.depth_source == DEPTH_NONE and hand.depth_landmark_count == 0
    assert all(p.x == p.y == p.z == 0 for p in hand.landmarks_camera) and len(hand.landmarks_camera) == 21
    assert hand.finger_flexion.dtype == np.float32
    np.testing.assert_array_equal(hand.finger_flexion, source.finger_flexion.astype(np.float32))
    assert hand.finger_flexion[4] > 1.0  # index PIP: the fingers are curled under the thumb


def test_definition_written_to_a_bag_describes_itself(real_hands, tmp_path):
    """A reader that knows nothing of our package can decode our messages from the bag's own definition."""
    from rosbags.rosbag2 import Reader, Writer
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    typestore = make_typestore()
    msgs = message_namespace(typestore)
    message = hand_landmarks_array(msgs, default_message(typestore, "std_msgs/msg/Header"), 640, 480, real_hands)
    with Writer(tmp_path / "bag", version=8) as writer:
        connection = writer.add_connection("/hands", ARRAY, typestore=typestore)
        writer.write(connection, 42, typestore.serialize_cdr(message, ARRAY))

    stranger = get_typestore(Stores.ROS2_JAZZY)
    with Reader(tmp_path / "bag") as reader:
        (connection,) = reader.connections
        assert connection.digest == typestore.hash_rihs01(ARRAY)
        stranger.register(get_types_from_msg(connection.msgdef.data, ARRAY))
        (_, timestamp, raw), = list(reader.messages())
    decoded = stranger.deserialize_cdr(raw, ARRAY)
    assert timestamp == 42
    assert decoded.image_width == 640
    assert decoded.hands[0].landmarks[8].x == pytest.approx(float(real_hands[0].landmarks[8, 0]))


def test_rclpy_and_rosbags_write_the_same_bytes(real_hands):
    """Where ROS 2 and the built package are installed: a message filled by the node's code path (rclpy
    classes) serializes to exactly the bytes the bag code path (rosbags) writes, and back."""
    serialization = pytest.importorskip("rclpy.serialization", reason="needs ROS 2 (rclpy)")
    try:
        from hand_tracking_ros.msg import HandLandmarksArray
    except ImportError:
        pytest.skip("needs the built hand_tracking_ros messages: colcon build, then source install/setup.bash")
    import importlib

    from hand_tracking_ros.ros_conversions import message_namespace as namespace_of

    def load(typename):
        package, _, name = typename.split("/")
        return getattr(importlib.import_module(f"{package}.msg"), name)

    rclpy_msgs = namespace_of(load)
    header = load("std_msgs/msg/Header")(frame_id="camera_optical_frame")
    header.stamp.sec, header.stamp.nanosec = 1700000000, 5
    rclpy_message = hand_landmarks_array(rclpy_msgs, header, 640, 480, real_hands)
    raw = serialization.serialize_message(rclpy_message)

    typestore = make_typestore()
    rosbags_header = typestore.types["std_msgs/msg/Header"](
        stamp=typestore.types["builtin_interfaces/msg/Time"](sec=1700000000, nanosec=5),
        frame_id="camera_optical_frame")
    rosbags_message = hand_landmarks_array(message_namespace(typestore), rosbags_header, 640, 480, real_hands)
    assert bytes(typestore.serialize_cdr(rosbags_message, ARRAY)) == raw
    decoded = serialization.deserialize_message(raw, HandLandmarksArray)
    assert serialization.serialize_message(decoded) == raw and len(decoded.hands[0].landmarks) == 21


@pytest.fixture(scope="module")
def metric_hands():
    """Real hands with metric poses: from the hand model (PnP) and from a synthetic aligned depth image (see
    test_depth_fusion.py); the second hand has no pose."""
    image = load_rgb("hands/assorted/0.jpg")
    height, width = image.shape[:2]
    camera = CameraIntrinsics(fx=width, fy=width, cx=width / 2, cy=height / 2, width=width, height=height)
    tracker = HandTracker(static_image_mode=True, max_num_hands=2)
    tracker.set_camera_intrinsics(camera)
    model_hand, other = tracker.process(image)
    depth = synthetic_depth_image([model_hand.pose.landmarks_camera], camera, width, height,
                                  np.random.default_rng(0))
    depth_hand = replace(model_hand, pose=fuse_depth(model_hand.world_landmarks, model_hand.landmarks, camera, depth))
    assert model_hand.pose.valid and depth_hand.pose.valid
    return model_hand, depth_hand, replace(other, pose=None)


def _header(typestore):
    return typestore.types["std_msgs/msg/Header"](
        stamp=typestore.types["builtin_interfaces/msg/Time"](sec=1700000000, nanosec=42),
        frame_id="camera_color_optical_frame")


def _round_trip(typestore, message, typename):
    raw = typestore.serialize_cdr(message, typename)
    decoded = typestore.deserialize_cdr(raw, typename)
    assert typestore.serialize_cdr(decoded, typename) == raw
    return decoded


@pytest.mark.parametrize("distro", ["humble", "jazzy"])
def test_metric_landmarks_and_their_source_round_trip(metric_hands, distro):
    typestore = make_typestore(distro)
    hands = metric_hands
    decoded = _round_trip(typestore, hand_landmarks_array(message_namespace(typestore), _header(typestore),
                                                          500, 432, hands), ARRAY)
    for message, hand, source in zip(decoded.hands, hands, (DEPTH_HAND_MODEL, DEPTH_IMAGE, DEPTH_NONE)):
        assert message.depth_source == source and message.pose_valid == (source != DEPTH_NONE)
        if hand.pose is not None:
            np.testing.assert_allclose([[p.x, p.y, p.z] for p in message.landmarks_camera],
                                       hand.pose.landmarks_camera, rtol=1e-12)
            assert message.depth_landmark_count == hand.pose.depth_landmark_count
    assert decoded.hands[0].depth_landmark_count == 0 and decoded.hands[1].depth_landmark_count >= 15
    np.testing.assert_allclose(decoded.hands[1].finger_flexion, hands[1].finger_flexion, rtol=1e-6)


@pytest.mark.parametrize("distro", ["humble", "jazzy"])
def test_wrist_poses_in_hand_order_and_tf_frames_per_posed_hand(metric_hands, distro):
    typestore = make_typestore(distro)
    msgs = message_namespace(typestore)
    hands = metric_hands
    poses = _round_trip(typestore, hand_poses(msgs, _header(typestore), hands), "geometry_msgs/msg/PoseArray")
    transforms = _round_trip(typestore, hand_transforms(msgs, _header(typestore), hands, tf_prefix="left_cam/"),
                             "tf2_msgs/msg/TFMessage").transforms
    assert poses.header.frame_id == "camera_color_optical_frame" and len(poses.poses) == 3
    # The hand without a pose keeps its place, as NaN; TF gets no frame for it (tf2 refuses NaN).
    assert np.isnan([poses.poses[2].position.x, poses.poses[2].orientation.w]).all()
    assert [t.child_frame_id for t in transforms] == [f"left_cam/hand_{hand.id}" for hand in hands[:2]]
    for pose, transform, hand in zip(poses.poses, transforms, hands):
        assert transform.header.frame_id == "camera_color_optical_frame"
        assert (transform.header.stamp.sec, transform.header.stamp.nanosec) == (1700000000, 42)
        origin, axes = wrist_frames(hand.pose.landmarks_camera, hand.handedness == "right")
        for position in (pose.position, transform.transform.translation):
            np.testing.assert_allclose([position.x, position.y, position.z], hand.pose.landmarks_camera[0])
        for q in (pose.orientation, transform.transform.rotation):
            np.testing.assert_allclose(_rotation(q.x, q.y, q.z, q.w), axes, atol=1e-9)


def _rotation(x, y, z, w):
    """Rotation matrix of a unit quaternion."""
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
