"""``hand-tracking bag``: a rosbag2 written here from a real video goes in, hands and markers come out."""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import pytest
from conftest import read_video
from synthetic_depth import synthetic_depth_image
# The rest of this module needs rosbags, a test dependency.
pytest.importorskip("rosbags", reason="rosbags is not installed (pip install -e \".[test]\")")
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.serde import SerdeError

from hand_tracking_ros import HandTracker, bag
from hand_tracking_ros.pose import CameraIntrinsics
from hand_tracking_ros.rosbags_messages import make_typestore
from hand_tracking_ros.types import DEPTH_HAND_MODEL, DEPTH_IMAGE, DEPTH_NONE

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


def image_message(index: int, rgb: np.ndarray, pad: int = 0):
    """A bgr8 image of ``rgb``; ``pad`` bytes at the end of each row, as drivers that align rows send."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).reshape(rgb.shape[0], -1)
    rows = np.concatenate([bgr, np.full((len(bgr), pad), 0x80, np.uint8)], axis=1)
    return T["sensor_msgs/msg/Image"](header=header(index), height=rgb.shape[0], width=rgb.shape[1],
                                      encoding="bgr8", is_bigendian=0, step=rows.shape[1], data=rows.reshape(-1))


def compressed_message(index: int, rgb: np.ndarray | None):
    data = (np.frombuffer(b"\xff\xd8 this is not a jpeg", np.uint8) if rgb is None else
            cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].reshape(-1))
    return T["sensor_msgs/msg/CompressedImage"](header=header(index), format="jpeg", data=data)


def camera_info_message(width: int, height: int, model: str = "plumb_bob", d=np.zeros(5)):
    info = T["sensor_msgs/msg/CameraInfo"]
    k = np.array([500.0, 0, width / 2, 0, 500.0, height / 2, 0, 0, 1])
    return info(header=header(0), height=height, width=width, distortion_model=model, d=np.asarray(d, float), k=k,
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
    """{topic: [(bag timestamp, raw bytes, message)]} of every message in the bag; message None for bytes
    that do not deserialize (copied as they were)."""
    topics: dict[str, list] = {}
    with Reader(path) as reader:
        for connection, timestamp, raw in reader.messages():
            try:
                message = TYPESTORE.deserialize_cdr(raw, connection.msgtype)
            except SerdeError:
                message = None
            topics.setdefault(connection.topic, []).append((timestamp, bytes(raw), message))
    return topics


def test_hands_and_markers_are_added_with_stamps_kept(video_frames, tmp_path):
    source, output = tmp_path / "in", tmp_path / "out"
    write_input_bag(source, StoragePlugin.SQLITE3, "/cam/image_raw",
                    [image_message(i, frame) for i, frame in enumerate(video_frames)])

    assert run_bag_command(str(source), str(output), "--image-topic", "/cam/image_raw") == 0

    before, after = read_bag(source), read_bag(output)
    assert set(after) == set(before) | {"/cam/hands", "/cam/hands/markers", "/cam/hands/poses"}
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
    # Without a depth topic the distance comes from the model's hand size; one wrist pose per hand.
    assert all(hand.depth_source == DEPTH_HAND_MODEL for array in found for hand in array.hands)
    camera_wrist = found[-1].hands[0].landmarks_camera[0]
    assert (camera_wrist.x, camera_wrist.y, camera_wrist.z) == pytest.approx((wrist_3d.x, wrist_3d.y, wrist_3d.z))
    poses = after["/cam/hands/poses"]
    assert [t for t, _, _ in poses] == [t for t, _, _ in hands]
    for (_, _, array), (_, _, pose_array) in zip(hands, poses):
        assert pose_array.header == array.header and len(pose_array.poses) == len(array.hands)
    assert poses[-1][2].poses[0].position.z == pytest.approx(camera_wrist.z)
    assert "/tf" not in after  # only with --tf


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
    assert run_bag_command(str(source), str(tmp_path / "out"), "--image-topic", "/cam/image_raw",
                           "--depth-topic", "/cam/depth", "--depth-topic", "/cam2/depth") == 1
    assert "2 --depth-topic for 1 --image-topic" in capsys.readouterr().err
    assert run_bag_command(str(source), str(tmp_path / "out"), "--image-topic", "/cam/image_raw",
                           "--depth-topic", "/cam/depth") == 1
    assert "depth topic /cam/depth is not in the bag" in capsys.readouterr().err
    assert run_bag_command(str(source), str(tmp_path / "out"), "--image-topic", "/cam/image_raw",
                           "--depth-topic", "/chatter") == 1
    assert "depth topic /chatter holds std_msgs/msg/String" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # an error found before writing leaves no output behind


# --- RGB-D: an aligned depth image per colour image, recorded just after it


DEPTH_FRAMES = 8
DEPTH_RECORD_DELAY_NS = 15_000_000  # aligned_depth_to_color is published after its colour image
HAND_SCALE = 1.1  # the depth image's hand over the hand-model pose's: the depth image must win


def depth_message(index: int, depth_mm: np.ndarray):
    return T["sensor_msgs/msg/Image"](header=header(index), height=depth_mm.shape[0], width=depth_mm.shape[1],
                                      encoding="16UC1", is_bigendian=0, step=depth_mm.shape[1] * 2,
                                      data=depth_mm.astype("<u2").view(np.uint8).reshape(-1))


def rgbd_records(frames) -> tuple[list, dict[int, float]]:
    """Colour images with camera_info (fx = 500) and a depth image of each frame's hand, rendered HAND_SCALE
    times farther along its pixels' rays than its hand-model pose: no depth image for frame 3 and an empty
    one (all holes) for frame 5. Also {frame: true wrist depth} of the frames whose depth image shows a hand."""
    camera = CameraIntrinsics(fx=500.0, fy=500.0, cx=320.0, cy=180.0, width=640, height=360)
    tracker = HandTracker()
    tracker.set_camera_intrinsics(camera)
    records = [info_record(camera_info_message(640, 360))] + image_records(frames)
    with_depth = {}
    for index, frame in enumerate(frames):
        hands = tracker.process(frame, (START_NS + index * PERIOD_NS) * 1e-9)
        if index == 3:
            continue
        joints = [HAND_SCALE * hand.pose.landmarks_camera for hand in hands if hand.pose.valid]
        depth = synthetic_depth_image(joints, camera, 640, 360, np.random.default_rng(index),
                                      background_m=1.5 if not joints else max(j[:, 2].max() for j in joints) + 0.5)
        if index == 5:
            depth[:] = 0
        elif len(joints) == 1:
            with_depth[index] = float(joints[0][0, 2])
        records.append(("/cam/depth", "sensor_msgs/msg/Image",
                        START_NS + index * PERIOD_NS + RECORD_DELAY_NS + DEPTH_RECORD_DELAY_NS,
                        depth_message(index, depth)))
    return sorted(records, key=lambda record: record[2]), with_depth


def test_depth_images_give_depth_fused_hands_poses_and_tf(video_frames, tmp_path, capsys):
    records, with_depth = rgbd_records(video_frames[:DEPTH_FRAMES])
    assert len(with_depth) >= DEPTH_FRAMES - 3
    source, output = tmp_path / "in", tmp_path / "out"
    write_bag(source, records)

    assert run_bag_command(str(source), str(output), "--image-topic", "/cam/image_raw", "--depth-topic",
                           "/cam/depth", "--depth-slop", "0.02", "--tf", "--tf-prefix", "front_") == 0

    after = read_bag(output)
    hands, poses, transforms = after["/cam/hands"], after["/cam/hands/poses"], after["/tf"]
    assert stamps_of(hands) == stamps_of(poses) == [START_NS + i * PERIOD_NS for i in range(DEPTH_FRAMES)]
    for index, ((image_time, _, _), (_, _, array), (_, _, pose_array)) in enumerate(
            zip(after["/cam/image_raw"], hands, poses)):
        assert hands[index][0] == image_time  # results at the image's bag time, also when written later
        for hand, pose in zip(array.hands, pose_array.poses):
            assert hand.pose_valid
            wrist = hand.landmarks_camera[0]
            if index in with_depth:
                # The depth image's hand is 10 % (about 5 cm) farther than the hand model's: it was used.
                assert hand.depth_source == DEPTH_IMAGE and hand.depth_landmark_count >= 10
                assert wrist.z == pytest.approx(with_depth[index], abs=0.01)
            else:
                assert hand.depth_source == DEPTH_HAND_MODEL and hand.depth_landmark_count == 0
            assert (pose.position.x, pose.position.y, pose.position.z) == pytest.approx((wrist.x, wrist.y, wrist.z))
    assert sum(bool(hands[index][2].hands) for index in with_depth) >= len(with_depth) - 1
    # Every hand with a pose has its tf frame, child of the image's frame, at the image's stamp and bag time.
    assert [t for t, _, _ in transforms] == [t for t, _, array in hands if array.hands]
    for (_, _, tf_message), (_, _, array) in zip(transforms, [h for h in hands if h[2].hands]):
        assert [t.child_frame_id for t in tf_message.transforms] == [f"front_hand_{hand.id}" for hand in array.hands]
        assert all(t.header == array.header for t in tf_message.transforms)
    err = capsys.readouterr().err
    assert f"/cam/image_raw: {DEPTH_FRAMES - 1} frames with a depth image" in err
    assert "/cam/image_raw: 1 frames without depth (1 no depth image within depth_slop)" in err


def test_depth_with_the_wrong_size_is_reported_and_the_frames_tracked(video_frames, tmp_path, capsys):
    frames = video_frames[:3]
    half = np.full((180, 320), 800, np.uint16)
    records = [info_record(camera_info_message(640, 360))] + image_records(frames) + [
        ("/cam/depth", "sensor_msgs/msg/Image", START_NS + i * PERIOD_NS + RECORD_DELAY_NS + 1,
         depth_message(i, half)) for i in range(3)]
    source, output = tmp_path / "in", tmp_path / "out"
    write_bag(source, sorted(records, key=lambda record: record[2]))

    assert run_bag_command(str(source), str(output), "--image-topic", "/cam/image_raw",
                           "--depth-topic", "/cam/depth") == 0

    hands = read_bag(output)["/cam/hands"]
    assert len(hands) == 3 and all(hand.depth_source == DEPTH_HAND_MODEL for _, _, a in hands for hand in a.hands)
    assert "3 frames without depth (3 depth image not registered to the colour image)" in capsys.readouterr().err


# --- Hostile bags: every good frame gives its results, every bad message is counted, OUT is always readable


def serialize(message) -> bytes:
    return bytes(TYPESTORE.serialize_cdr(message, message.__msgtype__))


def write_bag(path, records, storage=StoragePlugin.SQLITE3):
    """A bag of ``records``: (topic, type, bag timestamp, message or raw bytes), one connection per
    (topic, type)."""
    with Writer(path, version=8, storage_plugin=storage) as writer:
        connections = {}
        for topic, msgtype, timestamp, message in records:
            if (topic, msgtype) not in connections:
                connections[topic, msgtype] = writer.add_connection(topic, msgtype, typestore=TYPESTORE)
            raw = message if isinstance(message, bytes) else serialize(message)
            writer.write(connections[topic, msgtype], timestamp, raw)


def image_records(frames, topic="/cam/image_raw", **kwargs):
    return [(topic, "sensor_msgs/msg/Image", START_NS + i * PERIOD_NS + RECORD_DELAY_NS, image_message(i, frame,
                                                                                                       **kwargs))
            for i, frame in enumerate(frames)]


def info_record(message, topic="/cam/camera_info", timestamp=START_NS):
    return (topic, "sensor_msgs/msg/CameraInfo", timestamp, message)


def stamps_of(arrays) -> list[int]:
    return [array.header.stamp.sec * 10**9 + array.header.stamp.nanosec for _, _, array in arrays]


def test_undecodable_messages_are_skipped_counted_and_the_bag_finished(video_frames, tmp_path, capsys, caplog):
    frames = video_frames[:8]
    records = image_records(frames)
    image_type = T["sensor_msgs/msg/Image"]
    topic, msgtype, timestamp, good = records[2]
    records[2] = (topic, msgtype, timestamp, serialize(good)[:60])  # truncated: does not deserialize
    float_image = image_type(header=header(4), height=2, width=2, encoding="32FC3", is_bigendian=0, step=24,
                             data=np.zeros(48, np.uint8))
    records[4] = (topic, msgtype, records[4][2], float_image)   # a depth camera's floats, not a picture
    records[5] = (topic, msgtype, records[5][2], image_type(**{**good.__dict__, "header": header(5),
                                                                 "data": good.data[:1000]}))  # short data
    broken_info = serialize(camera_info_message(640, 360))[:30]
    records = [info_record(camera_info_message(640, 360)), info_record(broken_info, timestamp=START_NS + 1),
               *records]
    source, output = tmp_path / "in", tmp_path / "out"
    write_bag(source, records)

    assert run_bag_command(str(source), str(output), "--image-topic", "/cam/image_raw") == 1

    assert (output / "metadata.yaml").is_file()
    after = read_bag(output)
    assert len(after["/cam/image_raw"]) == 8 and len(after["/cam/camera_info"]) == 2  # everything copied
    good_frames = [0, 1, 3, 6, 7]
    assert stamps_of(after["/cam/hands"]) == [START_NS + i * PERIOD_NS for i in good_frames]
    assert len(after["/cam/hands/markers"]) == len(good_frames)
    assert sum(bool(array.hands) for _, _, array in after["/cam/hands"]) >= 4
    # The unreadable camera_info left the earlier calibration in place: hands keep their metric pose.
    assert all(hand.pose_valid for _, _, array in after["/cam/hands"] for hand in array.hands)
    err = capsys.readouterr().err
    assert "/cam/image_raw: 8 frames" in err and "3 skipped" in err
    assert "1 unreadable message" in err and "1 unsupported encoding" in err and "1 short data" in err
    assert "/cam/camera_info: 1 camera_info messages not used (1 unreadable message)" in err
    assert "encoding '32FC3' is not read as a picture" in caplog.text
    assert "Traceback" not in err


def test_bad_camera_info_gives_no_poses_and_no_traceback(video_frames, tmp_path, capsys, caplog):
    """A distortion list of a length OpenCV rejects, then a 1x1 calibration for 640x360 images: the frames
    are tracked, their hands have no pose (not one 275 m away), and the summary says why."""
    frames = video_frames[:6]
    records = image_records(frames)
    records.insert(0, info_record(camera_info_message(640, 360, d=np.full(100, 0.01))))
    records.insert(4, info_record(camera_info_message(1, 1), timestamp=records[3][2] + 1))
    source, output = tmp_path / "in", tmp_path / "out"
    write_bag(source, records)

    assert run_bag_command(str(source), str(output), "--image-topic", "/cam/image_raw") == 1

    hands = read_bag(output)["/cam/hands"]
    assert len(hands) == 6 and sum(bool(array.hands) for _, _, array in hands) >= 5
    assert not any(hand.pose_valid for _, _, array in hands for hand in array.hands)
    err = capsys.readouterr().err
    assert "/cam/camera_info: 1 camera_info messages not used (1 unusable calibration)" in err
    assert "/cam/image_raw: 3 frames without hand poses (3 camera_info size does not fit the images)" in err
    assert "plumb_bob distortion with 100 coefficients" in caplog.text
    assert "camera_info is for 1x1 images, this one is 640x360" in caplog.text


def test_padded_rows_give_the_same_hands(video_frames, tmp_path):
    """Rows padded to a longer step (step > width * 3) are decoded unsheared: the same hands as without."""
    frames = video_frames[:4]
    found = []
    for name, pad in (("plain", 0), ("padded", 64)):
        write_bag(tmp_path / name, image_records(frames, pad=pad))
        assert run_bag_command(str(tmp_path / name), str(tmp_path / f"{name}_out"),
                               "--image-topic", "/cam/image_raw") == 0
        found.append([array for _, _, array in read_bag(tmp_path / f"{name}_out")["/cam/hands"]])
    plain, padded = found
    assert sum(bool(array.hands) for array in padded) >= 3
    for a, b in zip(plain, padded):
        assert [[p.x, p.y] for hand in a.hands for p in hand.landmarks] == \
            [[p.x, p.y] for hand in b.hands for p in hand.landmarks]


def test_other_message_types_on_the_image_topic(video_frames, tmp_path, capsys):
    records = image_records(video_frames[:3])
    string = T["std_msgs/msg/String"](data="not an image")
    records += [("/cam/image_raw", "std_msgs/msg/String", START_NS + 10 + i, string) for i in range(2)]
    source, output = tmp_path / "in", tmp_path / "out"
    write_bag(source, sorted(records, key=lambda record: record[2]))

    assert run_bag_command(str(source), str(output), "--image-topic", "/cam/image_raw") == 0

    after = read_bag(output)
    assert len(after["/cam/hands"]) == 3 and len(after["/cam/image_raw"]) == 5
    # No camera_info in this bag: no metric pose, so DEPTH_NONE and a NaN wrist pose per hand.
    hands = [hand for _, _, array in after["/cam/hands"] for hand in array.hands]
    assert hands and all(hand.depth_source == DEPTH_NONE and not hand.pose_valid for hand in hands)
    assert all(np.isnan(pose.position.x) for _, _, array in after["/cam/hands/poses"] for pose in array.poses)
    err = capsys.readouterr().err
    assert "/cam/image_raw: 2 other messages copied, not tracked (2 std_msgs/msg/String)" in err
    assert "Traceback" not in err


def test_two_image_topics_of_one_namespace_are_refused_before_writing(video_frames, tmp_path, capsys):
    records = image_records(video_frames[:1]) + image_records(video_frames[:1], topic="/cam/image_rect")
    source, output = tmp_path / "in", tmp_path / "out"
    write_bag(source, records)

    assert run_bag_command(str(source), str(output), "--image-topic", "/cam/image_raw",
                           "--image-topic", "/cam/image_rect") == 1

    assert "/cam/image_raw and /cam/image_rect would both write /cam/hands" in capsys.readouterr().err
    assert not output.exists()


class TrackerStoppedAt:
    """A real HandTracker whose ``frame``-th image raises ``error`` instead: what Ctrl-C or a bug mid-run
    does, at a frame the test chooses."""

    def __init__(self, frame: int, error: BaseException):
        self.tracker, self.frame, self.error, self.calls = HandTracker(), frame, error, 0

    def set_camera_intrinsics(self, intrinsics, stream=None):
        self.tracker.set_camera_intrinsics(intrinsics, stream)

    def process_streams(self, images, timestamp=None):
        self.calls += 1
        if self.calls == self.frame:
            raise self.error
        return self.tracker.process_streams(images, timestamp)


def test_interrupted_run_leaves_a_finished_bag(video_frames, tmp_path, monkeypatch, capsys):
    source, output = tmp_path / "in", tmp_path / "out"
    write_bag(source, image_records(video_frames[:6]))
    monkeypatch.setattr(bag, "tracker_from_arguments", lambda args: TrackerStoppedAt(4, KeyboardInterrupt()))

    assert run_bag_command(str(source), str(output), "--image-topic", "/cam/image_raw") == 130

    after = read_bag(output)  # readable: metadata.yaml was written
    assert stamps_of(after["/cam/hands"]) == [START_NS + i * PERIOD_NS for i in range(3)]
    err = capsys.readouterr().err
    assert "interrupted" in err and "/cam/image_raw: 4 frames" in err


def test_a_failure_mid_run_leaves_a_finished_bag(video_frames, tmp_path):
    source, output = tmp_path / "in", tmp_path / "out"
    write_bag(source, image_records(video_frames[:4]))

    with pytest.raises(RuntimeError, match="inference failed"):
        bag.process_bag(source, output, ["/cam/image_raw"], TrackerStoppedAt(2, RuntimeError("inference failed")))

    after = read_bag(output)
    assert len(after["/cam/hands"]) == 1 and len(after["/cam/image_raw"]) == 2


def test_tf_goes_into_the_bags_own_tf_topic(video_frames, tmp_path):
    """A robot bag has /tf already: the hands' frames join it (one /tf topic for tf listeners)."""
    camera_mount = T["tf2_msgs/msg/TFMessage"](transforms=[T["geometry_msgs/msg/TransformStamped"](
        header=T["std_msgs/msg/Header"](stamp=header(0).stamp, frame_id="base_link"),
        child_frame_id="camera_optical_frame",
        transform=T["geometry_msgs/msg/Transform"](
            translation=T["geometry_msgs/msg/Vector3"](x=0.1, y=0.0, z=1.0),
            rotation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)))])
    records = [info_record(camera_info_message(640, 360)), ("/tf", "tf2_msgs/msg/TFMessage", START_NS, camera_mount),
               *image_records(video_frames[:3])]
    source, output = tmp_path / "in", tmp_path / "out"
    write_bag(source, records)

    assert run_bag_command(str(source), str(output), "--image-topic", "/cam/image_raw", "--tf") == 0

    with Reader(output) as reader:
        assert [connection.topic for connection in reader.connections].count("/tf") == 1
    tf_messages = [message for _, _, message in read_bag(output)["/tf"]]
    assert tf_messages[0].transforms[0].child_frame_id == "camera_optical_frame"  # the original, unchanged
    hands = [array for _, _, array in read_bag(output)["/cam/hands"] if array.hands]
    assert [[t.child_frame_id for t in message.transforms] for message in tf_messages[1:]] == [
        [f"hand_{hand.id}" for hand in array.hands] for array in hands]
