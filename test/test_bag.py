"""``hand-tracking bag``: a rosbag2 written here from a real video goes in, hands and markers come out."""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import pytest
from conftest import read_video
# The rest of this module needs rosbags, a test dependency.
pytest.importorskip("rosbags", reason="rosbags is not installed (pip install -e \".[test]\")")
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from hand_tracking_ros import bag
from hand_tracking_ros.rosbags_messages import make_typestore

FRAMES = 24          # enough for detection then tracking, small enough for CI
START_NS = 1_700_000_000 * 10**9
PERIOD_NS = 33_333_333
RECORD_DELAY_NS = 5_000_000  # the bag records each message a little after its header stamp
TYPESTORE = make_typestore()
T = TYPESTORE.types


@pytest.fixture(scope="module")
def video_frames():
    return read_video("videos/reaching_hand_640x360.mp4", max_frames=FRAMES)


def header(index: int):
    stamp = START_NS + index * PERIOD_NS
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=stamp // 10**9,
                                                                            nanosec=stamp % 10**9),
                                    frame_id="camera_optical_frame")


def image_message(index: int, rgb: np.ndarray):
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    return T["sensor_msgs/msg/Image"](header=header(index), height=bgr.shape[0], width=bgr.shape[1],
                                      encoding="bgr8", is_bigendian=0, step=bgr.shape[1] * 3,
                                      data=bgr.reshape(-1))


def compressed_message(index: int, rgb: np.ndarray | None):
    data = (np.frombuffer(b"\xff\xd8 this is not a jpeg", np.uint8) if rgb is None else
            cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].reshape(-1))
    return T["sensor_msgs/msg/CompressedImage"](header=header(index), format="jpeg", data=data)


def camera_info_message(width: int, height: int):
    info = T["sensor_msgs/msg/CameraInfo"]
    k = np.array([500.0, 0, width / 2, 0, 500.0, height / 2, 0, 0, 1])
    return info(header=header(0), height=height, width=width, distortion_model="plumb_bob", d=np.zeros(5), k=k,
                r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0,
                roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                          do_rectify=False))


def write_input_bag(path, storage, image_topic, messages):
    """A bag with camera_info, the images and an unrelated topic that must be copied untouched."""
    with Writer(path, version=8, storage_plugin=storage) as writer:
        image_type = messages[0].__msgtype__
        images = writer.add_connection(image_topic, image_type, typestore=TYPESTORE)
        info = writer.add_connection("/cam/camera_info", "sensor_msgs/msg/CameraInfo", typestore=TYPESTORE)
        chatter = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=TYPESTORE)
        writer.write(info, START_NS, TYPESTORE.serialize_cdr(camera_info_message(640, 360),
                                                              "sensor_msgs/msg/CameraInfo"))
        writer.write(chatter, START_NS + 1, TYPESTORE.serialize_cdr(T["std_msgs/msg/String"](data="hello"),
                                                                     "std_msgs/msg/String"))
        for index, message in enumerate(messages):
            writer.write(images, START_NS + index * PERIOD_NS + RECORD_DELAY_NS,
                         TYPESTORE.serialize_cdr(message, image_type))


def run_bag_command(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    bag.add_arguments(parser)
    return bag.run(parser.parse_args(list(argv)))


def read_bag(path):
    """{topic: [(bag timestamp, raw bytes, message)]} of every message in the bag."""
    topics: dict[str, list] = {}
    with Reader(path) as reader:
        for connection, timestamp, raw in reader.messages():
            message = TYPESTORE.deserialize_cdr(raw, connection.msgtype)
            topics.setdefault(connection.topic, []).append((timestamp, bytes(raw), message))
    return topics


def test_hands_and_markers_are_added_with_stamps_kept(video_frames, tmp_path):
    source, output = tmp_path / "in", tmp_path / "out"
    write_input_bag(source, StoragePlugin.SQLITE3, "/cam/image_raw",
                    [image_message(i, frame) for i, frame in enumerate(video_frames)])

    assert run_bag_command(str(source), str(output), "--image-topic", "/cam/image_raw") == 0

    before, after = read_bag(source), read_bag(output)
    assert set(after) == set(before) | {"/cam/hands", "/cam/hands/markers"}
    for topic, messages in before.items():  # originals unchanged, byte for byte, same bag timestamps
        assert [(t, raw) for t, raw, _ in after[topic]] == [(t, raw) for t, raw, _ in messages]
    images, hands, markers = before["/cam/image_raw"], after["/cam/hands"], after["/cam/hands/markers"]
    assert len(hands) == len(markers) == FRAMES
    for (image_time, _, image), (hands_time, _, array), (markers_time, _, marker_array) in zip(images, hands,
                                                                                              markers):
        assert hands_time == markers_time == image_time
        assert array.header == image.header == marker_array.markers[0].header
        assert (array.image_width, array.image_height) == (640, 360)
    # The video shows one hand reaching out: it is found, has 21 landmarks, and keeps its track id.
    found = [array for _, _, array in hands if array.hands]
    assert len(found) >= FRAMES - 2
    assert all(len(array.hands) == 1 and len(array.hands[0].landmarks) == 21 for _, _, array in hands if array.hands)
    assert len({array.hands[0].id for array in found}) == 1
    xs = [p.x for p in found[-1].hands[0].landmarks]
    assert 0 <= min(xs) < max(xs) <= 640
    # With the bag's camera_info (fx = 500) each hand has a metric pose, and the markers show the hand
    # there: the wrist marker projects back onto the wrist's pixel.
    assert all(array.hands[0].pose_valid for array in found)
    wrist = found[-1].hands[0].landmarks[0]
    spheres = next(m for m in markers[-1][2].markers if m.ns == "landmarks")
    wrist_3d = spheres.points[0]
    assert 0.1 < wrist_3d.z < 3.0
    assert (wrist_3d.x / wrist_3d.z * 500 + 320, wrist_3d.y / wrist_3d.z * 500 + 180) == pytest.approx(
        (wrist.x, wrist.y), abs=15)


def test_compressed_mcap_with_a_corrupt_image(video_frames, tmp_path):
    source, output = tmp_path / "in", tmp_path / "out"
    frames = [compressed_message(i, frame) for i, frame in enumerate(video_frames[:8])]
    frames[3] = compressed_message(3, None)
    write_input_bag(source, StoragePlugin.MCAP, "/cam/image_raw/compressed", frames)

    # An unreadable image is skipped (and makes the exit status 1) but the others are tracked.
    assert run_bag_command(str(source), str(output), "--image-topic", "/cam/image_raw/compressed") == 1

    assert any(output.glob("*.mcap"))
    after = read_bag(output)
    hands = after["/cam/hands"]
    assert len(hands) == 7 and len(after["/cam/image_raw/compressed"]) == 8
    assert sum(bool(array.hands) for _, _, array in hands) >= 6
    stamps = [array.header.stamp.sec * 10**9 + array.header.stamp.nanosec for _, _, array in hands]
    assert stamps == [START_NS + i * PERIOD_NS for i in range(8) if i != 3]


def test_helpful_errors(video_frames, tmp_path, capsys):
    source = tmp_path / "in"
    write_input_bag(source, StoragePlugin.SQLITE3, "/cam/image_raw", [image_message(0, video_frames[0])])

    assert run_bag_command(str(source), str(tmp_path / "out"), "--image-topic", "/camera/image") == 1
    assert "/camera/image is not in the bag; image topics there: /cam/image_raw" in capsys.readouterr().err
    assert run_bag_command(str(source), str(tmp_path / "out"), "--image-topic", "/chatter") == 1
    assert "/chatter holds std_msgs/msg/String" in capsys.readouterr().err
    assert run_bag_command(str(source), str(source), "--image-topic", "/cam/image_raw") == 1
    assert "exists already" in capsys.readouterr().err
    assert run_bag_command(str(tmp_path / "missing"), str(tmp_path / "out"), "--image-topic", "/x") == 1
    assert "cannot read rosbag2" in capsys.readouterr().err
