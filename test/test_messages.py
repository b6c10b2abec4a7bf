"""msg/*.msg: they parse, carry the fields the issue names, and round-trip through rosbags (no ROS needed)."""

from __future__ import annotations

import numpy as np
import pytest
# The rest of this module needs rosbags, a test dependency.
pytest.importorskip("rosbags", reason="rosbags is not installed (pip install -e \".[test]\")")
from rosbags.interfaces import Nodetype
from conftest import REPO_ROOT, load_rgb

from hand_tracking_ros import LANDMARK_NAMES, HandTracker
from hand_tracking_ros.ros_conversions import hand_landmarks_array
from hand_tracking_ros.rosbags_messages import (
    default_message,
    find_msg_dir,
    load_message_types,
    make_typestore,
    message_namespace,
)

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
    assert find_msg_dir() == REPO_ROOT / "msg"
    assert set(load_message_types()) == {HAND, ARRAY}
    typestore = make_typestore(distro)
    assert {HAND, ARRAY} <= set(typestore.types)


def test_hand_landmarks_fields_are_the_contract():
    constants, fields = make_typestore().fielddefs[HAND]
    described = {name: desc for name, desc in fields}
    assert list(described) == [
        "id", "handedness", "handedness_score", "presence", "landmarks", "world_landmarks",
        "rect_center_x", "rect_center_y", "rect_width", "rect_height", "rect_rotation",
        "gesture", "gesture_score", "pose", "pose_valid"]
    # Exactly 21 points per landmark set: a fixed-size array, not a sequence.
    for name in ("landmarks", "world_landmarks"):
        assert described[name] == (Nodetype.ARRAY, ((Nodetype.NAME, "geometry_msgs/msg/Point"), 21))
    assert described["pose"] == (Nodetype.NAME, "geometry_msgs/msg/Pose")
    assert described["pose_valid"] == (Nodetype.BASE, ("bool", 0))
    # The index constants name the landmarks in the core's order.
    indices = {name: value for name, _, value in constants if name not in ("NUM_LANDMARKS", "LEFT", "RIGHT")}
    assert [name.lower() for name, _ in sorted(indices.items(), key=lambda item: item[1])] == list(LANDMARK_NAMES)
    assert ("NUM_LANDMARKS", "uint8", 21) in constants
    assert {(name, value) for name, _, value in constants if name in ("LEFT", "RIGHT")} == {
        ("LEFT", "left"), ("RIGHT", "right")}


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
