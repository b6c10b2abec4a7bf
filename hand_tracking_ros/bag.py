"""``hand-tracking bag IN OUT --image-topic T``: track hands in a rosbag2, without a ROS install.

Reads a rosbag2 (sqlite3 or mcap) with ``rosbags``, runs the tracker on every sensor_msgs/Image or
CompressedImage of each image topic, and writes OUT (rosbag2 format version 8) with every original
message unchanged plus, per image topic, the HandLandmarksArray and MarkerArray topics the node would
publish (``/cam/image_raw`` -> ``/cam/hands``, ``/cam/hands/markers``). Each result has the image's
header and the image's bag timestamp. Marker depth uses the bag's ``camera_info`` of that camera when it
has one: the tracker then computes each hand's metric pose (HandLandmarks.pose) and the markers show the
hand where it is (see ``ros_conversions``). Images are decoded as the node decodes them
(``image_decoding``).

Nothing is lost and nothing stops the run half-way: a message that cannot be read or decoded (an image or
a camera_info) is copied, skipped, counted with its reason and warned about once per reason; messages of
other types on an image topic are copied and counted. OUT is always a finished, readable bag, also when
the run is interrupted (Ctrl-C) or fails: it then holds every message before that point. An error found
before anything is written (a missing topic, two image topics whose results would share a topic) leaves
no OUT behind.

rosbags is imported when the command runs, so the rest of the CLI works without it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

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

# Reasons a message is skipped, besides image_decoding's (ImageDecodeError.reason).
UNREADABLE_MESSAGE = "unreadable message"        # its bytes do not deserialize as its type
UNUSABLE_CALIBRATION = "unusable calibration"    # a camera_info the pose code cannot use
CALIBRATION_SIZE_MISMATCH = "camera_info size does not fit the images"


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
    summary = BagSummary()
    try:
        tracker = tracker_from_arguments(args)
        process_bag(args.input, args.output, args.image_topics, tracker, storage=args.storage,
                    ros_distro=args.ros_distro, assumed_depth=args.marker_assumed_depth,
                    progress=sys.stderr.isatty(), summary=summary)
    except (BagError, ModelFileError, ProviderUnavailableError) as error:
        print(f"hand-tracking bag: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\n".join(summary.lines()), file=sys.stderr)
        print(f"interrupted: {args.output} is finished and holds the messages read until then", file=sys.stderr)
        return 130
    print("\n".join(summary.lines()), file=sys.stderr)
    print(f"wrote {args.output}", file=sys.stderr)
    return 1 if summary.any_skipped else 0


def _counts(counter: Counter) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in counter.most_common())


@dataclass
class BagSummary:
    """What a run did, per image topic (and per camera_info topic), filled in while it runs."""

    images: dict[str, int] = field(default_factory=dict)             # image messages (tracked or skipped)
    images_with_hands: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, Counter] = field(default_factory=dict)        # reason -> images without results
    without_pose: dict[str, Counter] = field(default_factory=dict)   # reason -> images tracked without the
    #                                                                  camera's calibration (no metric pose)
    camera_info_skipped: defaultdict = field(default_factory=lambda: defaultdict(Counter))  # reason -> messages
    other_messages: defaultdict = field(default_factory=lambda: defaultdict(Counter))  # type -> messages copied

    def add_topic(self, topic: str) -> None:
        self.images[topic], self.images_with_hands[topic] = 0, 0
        self.skipped[topic], self.without_pose[topic] = Counter(), Counter()

    @property
    def bad_images(self) -> dict[str, int]:
        """Images skipped per image topic."""
        return {topic: sum(reasons.values()) for topic, reasons in self.skipped.items()}

    @property
    def any_skipped(self) -> bool:
        return any(self.bad_images.values()) or any(self.camera_info_skipped.values())

    def lines(self) -> list[str]:
        """The summary for people: frames, frames with hands and skipped frames per reason, per topic."""
        lines = []
        for topic, count in self.images.items():
            skipped = self.skipped[topic]
            line = f"{topic}: {count} frames, {self.images_with_hands[topic]} with hands, " \
                   f"{sum(skipped.values())} skipped"
            lines.append(line + (f" ({_counts(skipped)})" if skipped else ""))
            for what, counter in (("frames without hand poses", self.without_pose[topic]),
                                  ("other messages copied, not tracked", self.other_messages[topic])):
                if counter:
                    lines.append(f"{topic}: {sum(counter.values())} {what} ({_counts(counter)})")
        for topic, reasons in self.camera_info_skipped.items():
            if reasons:
                lines.append(f"{topic}: {sum(reasons.values())} camera_info messages not used "
                             f"({_counts(reasons)})")
        return lines


def _import_rosbags():
    try:
        import rosbags.rosbag2
    except ImportError as error:
        raise BagError(f"bag processing needs the rosbags package ({error}): pip install rosbags") from error
    return rosbags.rosbag2


def process_bag(input_path: Path, output_path: Path, image_topics: list[str], tracker, *,
                storage: str | None = None, ros_distro: str | None = None, assumed_depth: float = 0.5,
                progress: bool = False, summary: BagSummary | None = None) -> BagSummary:
    """Copy ``input_path`` to ``output_path`` adding hands and markers for ``image_topics`` (module doc).

    Fills and returns ``summary`` (a new one by default), which also holds what was done when the run is
    interrupted (KeyboardInterrupt) or fails: both are raised again once the output bag is finished."""
    rosbag2 = _import_rosbags()
    from .rosbags_messages import make_typestore, message_namespace

    summary = BagSummary() if summary is None else summary
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
        cameras = _cameras(reader, image_topics)
        _check_copyable(reader, typestore)
        is_mcap = input_path.suffix == ".mcap" or any(input_path.glob("*.mcap"))
        storage = storage or ("mcap" if is_mcap else "sqlite3")
        plugin = rosbag2.StoragePlugin.MCAP if storage == "mcap" else rosbag2.StoragePlugin.SQLITE3
        tracking = _BagRun(typestore, message_namespace(typestore), tracker, cameras, assumed_depth, summary)
        writer = rosbag2.Writer(output_path, version=BAG_VERSION, storage_plugin=plugin)
        try:
            writer.open()
        except (OSError, rosbag2.WriterError) as error:
            raise BagError(f"cannot write {output_path}: {error}") from error
        try:
            copies = {connection.id: _copy_connection(writer, connection, typestore)
                      for connection in reader.connections}
            tracking.results = {topic: (writer.add_connection(topics.hands, HANDS_TYPE, typestore=typestore),
                                        writer.add_connection(topics.markers, MARKERS_TYPE, typestore=typestore))
                                for topic, topics in cameras.items()}
        except BaseException:  # nothing written yet: leave no half-made bag behind
            with contextlib.suppress(Exception):
                writer.close()
            shutil.rmtree(output_path, ignore_errors=True)
            raise
        messages = reader.messages(connections=reader.connections)
        if progress:
            from tqdm import tqdm

            messages = tqdm(messages, total=reader.message_count, unit="msg")
        written = 0
        try:
            for connection, timestamp, rawdata in messages:
                writer.write(copies[connection.id], timestamp, rawdata)
                written += 1
                tracking.on_message(connection, timestamp, rawdata, writer)
        except Exception as error:
            LOGGER.error("stopped by %r after %d messages; %s holds them", error, written, output_path)
            raise
        finally:  # also on KeyboardInterrupt: a finished bag (metadata.yaml) with what was written
            writer.close()
    finally:
        reader.close()
    return summary


class _BagRun:
    """The tracking side of one run: decodes, tracks and writes the results of each message it is given."""

    def __init__(self, typestore, msgs, tracker, cameras: dict, assumed_depth: float, summary: BagSummary):
        from rosbags.serde import SerdeError

        self.typestore, self.msgs, self.tracker, self.cameras = typestore, msgs, tracker, cameras
        self.assumed_depth, self.summary = assumed_depth, summary
        self.results: dict = {}  # image topic -> (hands, markers) output connections, once the writer is open
        self.unreadable = SerdeError
        self.cameras_of_info: dict[str, list[str]] = {}
        for topic, topics in cameras.items():
            self.cameras_of_info.setdefault(topics.camera_info, []).append(topic)
            summary.add_topic(topic)
        self.intrinsics: dict = {}  # image topic -> CameraIntrinsics from the newest camera_info so far, or None
        self._warned: set[tuple[str, str]] = set()

    def _count(self, counter: Counter, topic: str, reason: str, timestamp: int, what: str) -> None:
        counter[reason] += 1
        if (topic, reason) not in self._warned:
            self._warned.add((topic, reason))
            LOGGER.warning("%s at %d ns: %s (%s); further ones are counted in the summary", topic, timestamp, what,
                           reason)

    def on_message(self, connection, timestamp: int, rawdata, writer) -> None:
        topic = connection.topic
        if connection.msgtype == CAMERA_INFO_TYPE and topic in self.cameras_of_info:
            self._on_camera_info(topic, timestamp, rawdata)
        elif topic in self.cameras:
            if connection.msgtype in IMAGE_TYPES:
                self._on_image(topic, connection.msgtype, timestamp, rawdata, writer)
            else:
                self.summary.other_messages[topic][connection.msgtype] += 1

    def _on_camera_info(self, info_topic: str, timestamp: int, rawdata) -> None:
        """Give the tracker the cameras' intrinsics (it then computes each hand's pose)."""
        from .ros_conversions import camera_intrinsics

        skipped = self.summary.camera_info_skipped[info_topic]
        try:
            camera = camera_intrinsics(self.typestore.deserialize_cdr(rawdata, CAMERA_INFO_TYPE))
        except self.unreadable as error:  # keep the calibration of the previous camera_info
            self._count(skipped, info_topic, UNREADABLE_MESSAGE, timestamp, f"skipped a camera_info: {error}")
            return
        except ValueError as error:
            camera = None
            self._count(skipped, info_topic, UNUSABLE_CALIBRATION, timestamp,
                        f"cannot use this calibration, no hand poses: {error}")
        for topic in self.cameras_of_info[info_topic]:
            if self.intrinsics.get(topic) != camera:
                self.tracker.set_camera_intrinsics(camera, stream=topic)
            self.intrinsics[topic] = camera

    def _on_image(self, topic: str, msgtype: str, timestamp: int, rawdata, writer) -> None:
        from .image_decoding import ImageDecodeError, message_to_rgb
        from .ros_conversions import assumed_intrinsics, hand_landmarks_array, hand_markers

        skipped = self.summary.skipped[topic]
        self.summary.images[topic] += 1
        try:
            msg = self.typestore.deserialize_cdr(rawdata, msgtype)
        except self.unreadable as error:
            self._count(skipped, topic, UNREADABLE_MESSAGE, timestamp, f"skipped an image: {error}")
            return
        try:
            image = message_to_rgb(msg)
        except ImageDecodeError as error:
            self._count(skipped, topic, error.reason, timestamp, f"skipped an image: {error}")
            return
        stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
        hands = self.tracker.process_streams({topic: image}, timestamp=stamp or 1e-9 * timestamp)[topic]
        self.summary.images_with_hands[topic] += bool(hands)
        height, width = image.shape[:2]
        calibration = self.intrinsics.get(topic)
        camera = calibration.for_image_size(width, height) if calibration is not None else None
        if calibration is not None and camera is None:  # the tracker made no poses with it either
            self._count(self.summary.without_pose[topic], topic, CALIBRATION_SIZE_MISMATCH, timestamp,
                        f"camera_info is for {calibration.width}x{calibration.height} images, this one is "
                        f"{width}x{height} and no resize of it: no hand poses")
        hands_connection, markers_connection = self.results[topic]
        writer.write(hands_connection, timestamp, self.typestore.serialize_cdr(
            hand_landmarks_array(self.msgs, msg.header, width, height, hands), HANDS_TYPE))
        writer.write(markers_connection, timestamp, self.typestore.serialize_cdr(
            hand_markers(self.msgs, msg.header, hands, camera or assumed_intrinsics(width, height),
                         self.assumed_depth), MARKERS_TYPE))


def _cameras(reader, image_topics: list[str]) -> dict:
    """CameraTopics of each asked-for image topic, checked against what the bag holds."""
    types: dict[str, set[str]] = defaultdict(set)
    for connection in reader.connections:
        types[connection.topic].add(connection.msgtype)
    available = sorted(topic for topic, msgtypes in types.items() if msgtypes & set(IMAGE_TYPES))
    cameras = {}
    for topic in dict.fromkeys(image_topics):
        if topic not in types:
            raise BagError(f"topic {topic} is not in the bag; image topics there: {', '.join(available) or 'none'}")
        image_types = types[topic] & set(IMAGE_TYPES)
        if not image_types:
            raise BagError(f"{topic} holds {', '.join(sorted(types[topic]))}, not {' or '.join(IMAGE_TYPES)}")
        for other in sorted(types[topic] - image_types):
            LOGGER.warning("%s also has %s messages: they are copied, not tracked", topic, other)
        # Outputs go to the camera's namespace, as the node does: /cam/image_raw/compressed -> /cam/hands.
        compressed = IMAGE_TYPES[1] in image_types
        base = topic.removesuffix("/compressed") if compressed else topic
        try:
            cameras[topic] = camera_topics(base)
        except ValueError as error:
            raise BagError(f"{topic}: {error}") from error
        for output in (cameras[topic].hands, cameras[topic].markers):
            if output in types:
                raise BagError(f"the bag already has a {output} topic; write from a bag without results")
        for earlier, topics in cameras.items():
            if earlier != topic and topics.hands == cameras[topic].hands:
                raise BagError(f"{earlier} and {topic} would both write {topics.hands}: give one image topic per "
                               "camera namespace per run")
    return cameras


def _check_copyable(reader, typestore) -> None:
    """Refuse, before anything is written, a connection that ``_copy_connection`` could not copy."""
    for connection in reader.connections:
        if not (connection.msgdef.data and connection.digest) and connection.msgtype not in typestore.types:
            raise BagError(f"{connection.topic}: the bag has no definition of {connection.msgtype} and it is not a "
                           "standard type; cannot copy it")


def _copy_connection(writer, connection, typestore):
    """The output connection for an input one: same topic, type, definition, hash and QoS."""
    ext = connection.ext
    if connection.msgdef.data and connection.digest:
        return writer.add_connection(connection.topic, connection.msgtype, msgdef=connection.msgdef.data,
                                     rihs01=connection.digest, serialization_format=ext.serialization_format,
                                     offered_qos_profiles=ext.offered_qos_profiles)
    # Older bags (before Iron) store neither: take them from the type store, which knows standard types.
    return writer.add_connection(connection.topic, connection.msgtype, typestore=typestore,
                                 serialization_format=ext.serialization_format,
                                 offered_qos_profiles=ext.offered_qos_profiles)
