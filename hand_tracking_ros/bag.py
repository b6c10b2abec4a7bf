"""``hand-tracking bag IN OUT --image-topic T``: track hands in a rosbag2, without a ROS install.

Reads a rosbag2 (sqlite3 or mcap) with ``rosbags``, runs the tracker on every sensor_msgs/Image or
CompressedImage of each image topic, and writes OUT (rosbag2 format version 8) with every original
message unchanged plus, per image topic, the HandLandmarksArray and MarkerArray topics the node would
publish (``/cam/image_raw`` -> ``/cam/hands``, ``/cam/hands/markers``). Each result has the image's
header and the image's bag timestamp. Marker depth uses the bag's ``camera_info`` of that camera when it
has one: the tracker then computes each hand's metric pose (HandLandmarks.pose) and the markers show the
hand where it is (see ``ros_conversions``).

rosbags is imported when the command runs, so the rest of the CLI works without it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from .backend import ProviderUnavailableError
from .cli import add_tracker_arguments, tracker_from_arguments
from .models import ModelFileError
from .parameters import DEFAULTS
from .topics import camera_topics

LOGGER = logging.getLogger("hand_tracking_ros")

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
HANDS_TYPE = "hand_tracking_ros/msg/HandLandmarksArray"
MARKERS_TYPE = "visualization_msgs/msg/MarkerArray"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
BAG_VERSION = 8  # rosbag2 format of OUT


class BagError(RuntimeError):
    """The bags or the topics asked for cannot be processed; the message says why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, metavar="IN", help="input rosbag2 folder (sqlite3 or mcap)")
    parser.add_argument("output", type=Path, metavar="OUT", help="output rosbag2 folder (must not exist)")
    parser.add_argument("--image-topic", action="append", required=True, metavar="T", dest="image_topics",
                        help="Image or CompressedImage topic to track; repeat for several cameras")
    parser.add_argument("--storage", choices=("sqlite3", "mcap"),
                        help="storage of OUT (default: the same as IN)")
    parser.add_argument("--ros-distro", choices=("humble", "jazzy"),
                        help="message definitions for the results (default: the input bag's distro if it "
                             "records one, else jazzy)")
    add_tracker_arguments(parser)
    parser.add_argument("--marker-assumed-depth", type=float, default=DEFAULTS["marker_assumed_depth"],
                        metavar="METRES", help="depth of the markers of hands without a metric pose "
                                               "(default %(default)s)")


def run(args: argparse.Namespace) -> int:
    try:
        tracker = tracker_from_arguments(args)
        summary = process_bag(args.input, args.output, args.image_topics, tracker, storage=args.storage,
                              ros_distro=args.ros_distro, assumed_depth=args.marker_assumed_depth,
                              progress=sys.stderr.isatty())
    except (BagError, ModelFileError, ProviderUnavailableError) as error:
        print(f"hand-tracking bag: error: {error}", file=sys.stderr)
        return 1
    for topic, count in summary.images.items():
        print(f"{topic}: {count} images, {summary.images_with_hands[topic]} with hands, "
              f"{summary.bad_images[topic]} skipped as unreadable", file=sys.stderr)
    print(f"wrote {args.output}", file=sys.stderr)
    return 1 if any(summary.bad_images.values()) else 0


@dataclass
class BagSummary:
    images: dict[str, int] = field(default_factory=dict)
    images_with_hands: dict[str, int] = field(default_factory=dict)
    bad_images: dict[str, int] = field(default_factory=dict)


def _import_rosbags():
    try:
        import rosbags.image
        import rosbags.rosbag2
    except ImportError as error:
        raise BagError(f"bag processing needs the rosbags and rosbags-image packages ({error}): "
                       "pip install rosbags rosbags-image") from error
    return rosbags.rosbag2, rosbags.image


def process_bag(input_path: Path, output_path: Path, image_topics: list[str], tracker, *,
                storage: str | None = None, ros_distro: str | None = None, assumed_depth: float = 0.5,
                progress: bool = False) -> BagSummary:
    """Copy ``input_path`` to ``output_path`` adding hands and markers for ``image_topics`` (module doc)."""
    rosbag2, rosbags_image = _import_rosbags()
    from .ros_conversions import assumed_intrinsics, hand_landmarks_array, hand_markers
    from .rosbags_messages import make_typestore, message_namespace
    from .tracker import check_image

    if output_path.exists():
        raise BagError(f"output {output_path} exists already; choose a new folder")
    try:
        reader = rosbag2.Reader(input_path)
        reader.open()
    except (FileNotFoundError, rosbag2.ReaderError) as error:
        raise BagError(f"cannot read rosbag2 {input_path}: {error}") from error
    try:
        distro = ros_distro or (reader.ros_distro if reader.ros_distro in ("humble", "jazzy") else "jazzy")
        typestore = make_typestore(distro)
        msgs = message_namespace(typestore)
        cameras = _cameras(reader, image_topics)
        is_mcap = input_path.suffix == ".mcap" or any(input_path.glob("*.mcap"))
        storage = storage or ("mcap" if is_mcap else "sqlite3")
        plugin = rosbag2.StoragePlugin.MCAP if storage == "mcap" else rosbag2.StoragePlugin.SQLITE3
        summary = BagSummary(images={topic: 0 for topic in cameras},
                             images_with_hands={topic: 0 for topic in cameras},
                             bad_images={topic: 0 for topic in cameras})
        intrinsics = {}  # image topic -> CameraIntrinsics from the newest camera_info so far, or None
        with rosbag2.Writer(output_path, version=BAG_VERSION, storage_plugin=plugin) as writer:
            copies = {connection.id: _copy_connection(writer, connection, typestore)
                      for connection in reader.connections}
            results = {topic: (writer.add_connection(topics.hands, HANDS_TYPE, typestore=typestore),
                               writer.add_connection(topics.markers, MARKERS_TYPE, typestore=typestore))
                       for topic, topics in cameras.items()}
            cameras_of_info: dict[str, list[str]] = {}
            for topic, topics in cameras.items():
                cameras_of_info.setdefault(topics.camera_info, []).append(topic)
            messages = reader.messages(connections=reader.connections)
            if progress:
                from tqdm import tqdm

                messages = tqdm(messages, total=reader.message_count, unit="msg")
            for connection, timestamp, rawdata in messages:
                writer.write(copies[connection.id], timestamp, rawdata)
                if connection.topic in cameras_of_info and connection.msgtype == CAMERA_INFO_TYPE:
                    _update_intrinsics(typestore.deserialize_cdr(rawdata, CAMERA_INFO_TYPE), connection.topic,
                                       cameras_of_info[connection.topic], intrinsics, tracker)
                if connection.topic not in cameras:
                    continue
                topic, topics = connection.topic, cameras[connection.topic]
                summary.images[topic] += 1
                msg = typestore.deserialize_cdr(rawdata, connection.msgtype)
                try:
                    image = check_image(rosbags_image.message_to_cvimage(msg, "rgb8"))
                # rosbags-image raises ImageError for unsupported encodings, cv2.error or an AssertionError
                # for undecodable compressed data, TypeError when the data is shorter than the header says.
                except (rosbags_image.ImageError, AssertionError, TypeError, ValueError, cv2.error) as error:
                    summary.bad_images[topic] += 1
                    LOGGER.warning("%s at %d ns: skipped an unreadable image: %s", topic, timestamp, error)
                    continue
                stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
                hands = tracker.process_streams({topic: image}, timestamp=stamp or 1e-9 * timestamp)[topic]
                summary.images_with_hands[topic] += bool(hands)
                height, width = image.shape[:2]
                camera = intrinsics.get(topic) or assumed_intrinsics(width, height)
                hands_connection, markers_connection = results[topic]
                writer.write(hands_connection, timestamp, typestore.serialize_cdr(
                    hand_landmarks_array(msgs, msg.header, width, height, hands), HANDS_TYPE))
                writer.write(markers_connection, timestamp, typestore.serialize_cdr(
                    hand_markers(msgs, msg.header, hands, camera, assumed_depth), MARKERS_TYPE))
    finally:
        reader.close()
    return summary


def _update_intrinsics(info, info_topic: str, image_topics: list[str], intrinsics: dict, tracker) -> None:
    """Give the tracker the cameras' intrinsics (it then computes each hand's pose); warn once if unusable."""
    from .ros_conversions import camera_intrinsics

    try:
        camera = camera_intrinsics(info)
    except ValueError as error:
        camera = None
        if not any(topic in intrinsics for topic in image_topics):
            LOGGER.warning("%s: cannot use this calibration, no hand poses: %s", info_topic, error)
    for topic in image_topics:
        if intrinsics.get(topic) != camera:
            tracker.set_camera_intrinsics(camera, stream=topic)
        intrinsics[topic] = camera


def _cameras(reader, image_topics: list[str]) -> dict:
    """CameraTopics of each asked-for image topic, checked against what the bag holds."""
    types = {connection.topic: connection.msgtype for connection in reader.connections}
    available = sorted(topic for topic, msgtype in types.items() if msgtype in IMAGE_TYPES)
    cameras = {}
    for topic in image_topics:
        if topic not in types:
            raise BagError(f"topic {topic} is not in the bag; image topics there: {', '.join(available) or 'none'}")
        if types[topic] not in IMAGE_TYPES:
            raise BagError(f"{topic} holds {types[topic]}, not {' or '.join(IMAGE_TYPES)}")
        compressed = types[topic] == IMAGE_TYPES[1]
        # Outputs go to the camera's namespace, as the node does: /cam/image_raw/compressed -> /cam/hands.
        base = topic.removesuffix("/compressed") if compressed else topic
        cameras[topic] = camera_topics(base)
        for output in (cameras[topic].hands, cameras[topic].markers):
            if output in types:
                raise BagError(f"the bag already has a {output} topic; write from a bag without results")
    return cameras


def _copy_connection(writer, connection, typestore):
    """The output connection for an input one: same topic, type, definition, hash and QoS."""
    ext = connection.ext
    if connection.msgdef.data and connection.digest:
        return writer.add_connection(connection.topic, connection.msgtype, msgdef=connection.msgdef.data,
                                     rihs01=connection.digest, serialization_format=ext.serialization_format,
                                     offered_qos_profiles=ext.offered_qos_profiles)
    # Older bags (before Iron) store neither: take them from the type store, which knows standard types.
    if connection.msgtype not in typestore.types:
        raise BagError(f"{connection.topic}: the bag has no definition of {connection.msgtype} and it is not a "
                       "standard type; cannot copy it")
    return writer.add_connection(connection.topic, connection.msgtype, typestore=typestore,
                                 serialization_format=ext.serialization_format,
                                 offered_qos_profiles=ext.offered_qos_profiles)
