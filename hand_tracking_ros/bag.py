"""``hand-tracking bag IN OUT --image-topic T``: track hands in a rosbag2, without a ROS install.

Reads a rosbag2 (sqlite3 or mcap) with ``rosbags``, runs the tracker on every sensor_msgs/Image or
CompressedImage of each image topic, and writes OUT (rosbag2 format version 8) with every original
message unchanged plus, per image topic, the HandLandmarksArray, MarkerArray and PoseArray topics the node
would publish (``/cam/image_raw`` -> ``/cam/hands``, ``/cam/hands/markers``, ``/cam/hands/poses``), and
with ``--tf`` the hands' tf frames on ``/tf`` (into the bag's own /tf topic when it has one). Each result
has the image's header and the image's bag timestamp. Frames go from messages to results through
``camera_outputs``, the node's own path: with the bag's ``camera_info`` of that camera the tracker computes
each hand's metric pose (HandLandmarks.pose, landmarks_camera) and the markers show the hand where it is.

Depth (``--depth-topic``, one per ``--image-topic``, in the same order): each colour image takes the depth
image of its camera nearest to its stamp within ``--depth-slop`` seconds, as the node does
(``depth_matching``). Offline, it looks ahead: a colour image waits until a depth image stamped at or after
its own stamp has been read, or ``DEPTH_LOOKAHEAD_S`` of bag time has passed, or the bag ends; so a depth
image recorded just after its colour image (as RealSense's aligned_depth_to_color is) is still matched.
A colour image without a usable depth image is tracked without depth (the hand-model pose); the summary
counts those frames by reason.

Nothing is lost and nothing stops the run half-way: a message that cannot be read or decoded (an image, a
camera_info or a depth image) is copied, skipped, counted with its reason and warned about once per reason; messages of
other types on an image topic are copied and counted. OUT is always a finished, readable bag, also when
the run is interrupted (Ctrl-C) or fails: it then holds every message before that point (but the results of
the last colour images still waiting for their depth image). An error found
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
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .backend import ProviderUnavailableError
from .camera_outputs import NO_DEPTH_MATCH, OutputSettings, camera_input, camera_outputs, frame_timestamp
from .cli import add_marker_depth_argument, add_tracker_arguments, tracker_from_arguments
from .depth_matching import DepthHistory, stamp_seconds
from .models import ModelFileError
from .parameters import DEFAULTS
from .topics import camera_topics

LOGGER = logging.getLogger("hand_tracking_ros")

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
HANDS_TYPE = "hand_tracking_ros/msg/HandLandmarksArray"
MARKERS_TYPE = "visualization_msgs/msg/MarkerArray"
POSES_TYPE = "geometry_msgs/msg/PoseArray"
# The results of each image: the CameraTopics (topic) and CameraOutputs (message) field, and the type.
RESULT_TYPES = {"hands": HANDS_TYPE, "markers": MARKERS_TYPE, "poses": POSES_TYPE}
TF_TYPE = "tf2_msgs/msg/TFMessage"
TF_TOPIC = "/tf"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
DEPTH_TYPE = "sensor_msgs/msg/Image"
# Bag time a colour image waits for a depth image stamped at or after its own (module doc).
DEPTH_LOOKAHEAD_S = 1.0
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
    parser.add_argument("--depth-topic", action="append", default=[], metavar="T", dest="depth_topics",
                        help="aligned depth image topic (sensor_msgs/Image, 16UC1 mm or 32FC1 m, registered to "
                             "the colour image) of the --image-topic in the same position; repeat for each "
                             "(\"\" for a camera without depth)")
    parser.add_argument("--depth-slop", type=float, default=DEFAULTS["depth_slop"], metavar="SECONDS",
                        help="largest stamp difference of a colour image and its depth image (default "
                             "%(default)s)")
    parser.add_argument("--tf", action="store_true",
                        help="write each hand with a metric pose as a tf frame <prefix>hand_<id> to /tf")
    parser.add_argument("--tf-prefix", default=DEFAULTS["tf_prefix"], metavar="PREFIX",
                        help="prefix of the hands' tf frame names (default none)")
    add_tracker_arguments(parser)
    add_marker_depth_argument(parser)


def run(args: argparse.Namespace) -> int:
    summary = BagSummary()
    try:
        tracker = tracker_from_arguments(args)
        process_bag(args.input, args.output, args.image_topics, tracker, storage=args.storage,
                    ros_distro=args.ros_distro, assumed_depth=args.marker_assumed_depth,
                    depth_topics=args.depth_topics, depth_slop=args.depth_slop, tf=args.tf,
                    tf_prefix=args.tf_prefix, mirrored=args.mirrored, progress=sys.stderr.isatty(),
                    summary=summary)
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
    images_with_depth: dict[str, int] = field(default_factory=dict)  # of the image topics with a depth topic
    without_depth: dict[str, Counter] = field(default_factory=dict)  # reason -> images tracked without depth
    depth_skipped: defaultdict = field(default_factory=lambda: defaultdict(Counter))  # reason -> depth messages
    camera_info_skipped: defaultdict = field(default_factory=lambda: defaultdict(Counter))  # reason -> messages
    other_messages: defaultdict = field(default_factory=lambda: defaultdict(Counter))  # type -> messages copied

    def add_topic(self, topic: str, with_depth: bool = False) -> None:
        self.images[topic], self.images_with_hands[topic] = 0, 0
        self.skipped[topic], self.without_pose[topic] = Counter(), Counter()
        if with_depth:
            self.images_with_depth[topic], self.without_depth[topic] = 0, Counter()

    @property
    def bad_images(self) -> dict[str, int]:
        """Images skipped per image topic."""
        return {topic: sum(reasons.values()) for topic, reasons in self.skipped.items()}

    @property
    def any_skipped(self) -> bool:
        return (any(self.bad_images.values()) or any(self.camera_info_skipped.values())
                or any(self.depth_skipped.values()))

    def lines(self) -> list[str]:
        """The summary for people: frames, frames with hands and skipped frames per reason, per topic."""
        lines = []
        for topic, count in self.images.items():
            skipped = self.skipped[topic]
            line = f"{topic}: {count} frames, {self.images_with_hands[topic]} with hands, " \
                   f"{sum(skipped.values())} skipped"
            lines.append(line + (f" ({_counts(skipped)})" if skipped else ""))
            if topic in self.images_with_depth:
                lines.append(f"{topic}: {self.images_with_depth[topic]} frames with a depth image")
            for what, counter in (("frames without hand poses", self.without_pose[topic]),
                                  ("frames without depth", self.without_depth.get(topic, Counter())),
                                  ("other messages copied, not tracked", self.other_messages[topic])):
                if counter:
                    lines.append(f"{topic}: {sum(counter.values())} {what} ({_counts(counter)})")
        for what, skipped in (("camera_info", self.camera_info_skipped), ("depth", self.depth_skipped)):
            for topic, reasons in skipped.items():
                if reasons:
                    lines.append(f"{topic}: {sum(reasons.values())} {what} messages not used ({_counts(reasons)})")
        return lines


def _import_rosbags():
    try:
        import rosbags.rosbag2
    except ImportError as error:
        raise BagError(f"bag processing needs the rosbags package ({error}): pip install rosbags") from error
    return rosbags.rosbag2


def process_bag(input_path: Path, output_path: Path, image_topics: list[str], tracker, *,
                storage: str | None = None, ros_distro: str | None = None, assumed_depth: float = 0.5,
                depth_topics: Sequence[str] = (), depth_slop: float = DEFAULTS["depth_slop"], tf: bool = False,
                tf_prefix: str = "", mirrored: bool = False, progress: bool = False,
                summary: BagSummary | None = None) -> BagSummary:
    """Copy ``input_path`` to ``output_path`` adding hands, markers and poses for ``image_topics``, and /tf
    with ``tf`` (module doc). ``depth_topics``: none, or one per image topic ("" for none); ``mirrored``:
    the tracker's (the hand frames' z axis depends on it).

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
        depth_of = _depth_topics(reader, image_topics, depth_topics)
        if not depth_slop >= 0:
            raise BagError(f"--depth-slop must be a number of seconds >= 0, got {depth_slop}")
        _check_copyable(reader, typestore)
        is_mcap = input_path.suffix == ".mcap" or any(input_path.glob("*.mcap"))
        storage = storage or ("mcap" if is_mcap else "sqlite3")
        plugin = rosbag2.StoragePlugin.MCAP if storage == "mcap" else rosbag2.StoragePlugin.SQLITE3
        settings = OutputSettings(markers=True, assumed_depth=assumed_depth, tf=tf, tf_prefix=tf_prefix,
                                  mirrored=mirrored)
        tracking = _BagRun(typestore, message_namespace(typestore), tracker, cameras, depth_of, depth_slop,
                           settings, summary)
        writer = rosbag2.Writer(output_path, version=BAG_VERSION, storage_plugin=plugin)
        try:
            writer.open()
        except (OSError, rosbag2.WriterError) as error:
            raise BagError(f"cannot write {output_path}: {error}") from error
        try:
            copies = {connection.id: _copy_connection(writer, connection, typestore)
                      for connection in reader.connections}
            tracking.results = {topic: {kind: writer.add_connection(getattr(topics, kind), msgtype, typestore=typestore)
                                        for kind, msgtype in RESULT_TYPES.items()}
                                for topic, topics in cameras.items()}
            if tf:  # the bag's own /tf when it has one: tf listeners read one topic
                tracking.tf_connection = next(
                    (copies[connection.id] for connection in reader.connections
                     if connection.topic == TF_TOPIC and connection.msgtype == TF_TYPE), None) or \
                    writer.add_connection(TF_TOPIC, TF_TYPE, typestore=typestore)
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
            tracking.finish(writer)
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

    def __init__(self, typestore, msgs, tracker, cameras: dict, depth_of: dict, depth_slop: float,
                 settings: OutputSettings, summary: BagSummary):
        from rosbags.serde import SerdeError

        self.typestore, self.msgs, self.tracker, self.cameras = typestore, msgs, tracker, cameras
        self.settings, self.summary = settings, summary
        self.results: dict = {}  # image topic -> {"hands", "markers", "poses": output connection}
        self.tf_connection = None  # /tf, with --tf
        self.unreadable = SerdeError
        self.cameras_of_info: dict[str, list[str]] = {}
        self.cameras_of_depth: dict[str, list[str]] = {}
        for topic, topics in cameras.items():
            self.cameras_of_info.setdefault(topics.camera_info, []).append(topic)
            if depth_of.get(topic):
                self.cameras_of_depth.setdefault(depth_of[topic], []).append(topic)
            summary.add_topic(topic, with_depth=bool(depth_of.get(topic)))
        # Per camera with a depth topic: its recent depth messages, and its colour images waiting for one
        # (bag timestamp, message, calibration at that time).
        self.depths = {topic: DepthHistory(depth_slop) for topics in self.cameras_of_depth.values()
                       for topic in topics}
        self.waiting: dict[str, deque] = {topic: deque() for topic in self.depths}
        self.intrinsics: dict = {}  # image topic -> CameraIntrinsics from the newest camera_info so far, or None
        self.tracker_intrinsics: dict = {}  # image topic -> what the tracker has for that stream
        self._warned: set[tuple[str, str]] = set()

    def _count(self, counter: Counter, topic: str, reason: str, timestamp: int, what: str) -> None:
        counter[reason] += 1
        if (topic, reason) not in self._warned:
            self._warned.add((topic, reason))
            LOGGER.warning("%s at %d ns: %s (%s); further ones are counted in the summary", topic, timestamp, what,
                           reason)

    def _deserialize(self, rawdata, msgtype: str, counter: Counter, topic: str, timestamp: int, what: str):
        """The message, or None for bytes that do not deserialize as ``msgtype`` (counted in ``counter``)."""
        try:
            return self.typestore.deserialize_cdr(rawdata, msgtype)
        except self.unreadable as error:
            self._count(counter, topic, UNREADABLE_MESSAGE, timestamp, f"skipped {what}: {error}")
            return None

    def on_message(self, connection, timestamp: int, rawdata, writer) -> None:
        topic = connection.topic
        if connection.msgtype == CAMERA_INFO_TYPE and topic in self.cameras_of_info:
            self._on_camera_info(topic, timestamp, rawdata)
        elif connection.msgtype == DEPTH_TYPE and topic in self.cameras_of_depth:
            self._on_depth(topic, timestamp, rawdata)
        elif topic in self.cameras:
            if connection.msgtype in IMAGE_TYPES:
                self._on_image(topic, connection.msgtype, timestamp, rawdata, writer)
            else:
                self.summary.other_messages[topic][connection.msgtype] += 1
        for camera, waiting in self.waiting.items():
            if waiting:
                self._release(camera, timestamp, writer)

    def finish(self, writer) -> None:
        """At the end of the bag: track the colour images still waiting for a depth image."""
        for camera in self.waiting:
            self._release(camera, None, writer)

    def _on_camera_info(self, info_topic: str, timestamp: int, rawdata) -> None:
        """Keep the cameras' intrinsics (with them the tracker computes each hand's pose)."""
        from .ros_conversions import camera_intrinsics

        skipped = self.summary.camera_info_skipped[info_topic]
        msg = self._deserialize(rawdata, CAMERA_INFO_TYPE, skipped, info_topic, timestamp, "a camera_info")
        if msg is None:  # keep the calibration of the previous camera_info
            return
        try:
            camera = camera_intrinsics(msg)
        except ValueError as error:
            camera = None
            self._count(skipped, info_topic, UNUSABLE_CALIBRATION, timestamp,
                        f"cannot use this calibration, no hand poses: {error}")
        for topic in self.cameras_of_info[info_topic]:
            self.intrinsics[topic] = camera

    def _on_depth(self, depth_topic: str, timestamp: int, rawdata) -> None:
        msg = self._deserialize(rawdata, DEPTH_TYPE, self.summary.depth_skipped[depth_topic], depth_topic, timestamp,
                                "a depth image")
        if msg is None:
            return
        for topic in self.cameras_of_depth[depth_topic]:
            self.depths[topic].put(stamp_seconds(msg.header), msg)  # decoded only if a colour image takes it

    def _on_image(self, topic: str, msgtype: str, timestamp: int, rawdata, writer) -> None:
        self.summary.images[topic] += 1
        msg = self._deserialize(rawdata, msgtype, self.summary.skipped[topic], topic, timestamp, "an image")
        if msg is None:
            return
        if topic in self.waiting:  # tracked once its depth image is settled (_release)
            self.waiting[topic].append((timestamp, msg, self.intrinsics.get(topic)))
        else:
            self._track(topic, timestamp, msg, None, self.intrinsics.get(topic), writer)

    def _release(self, topic: str, now: int | None, writer) -> None:
        """Track, in order, the camera's waiting colour images whose depth image is settled (a depth image
        stamped at or after theirs has been read), or that waited DEPTH_LOOKAHEAD_S of bag time, or all of
        them at the end of the bag (``now`` None)."""
        waiting, depths = self.waiting[topic], self.depths[topic]
        while waiting:
            timestamp, msg, calibration = waiting[0]
            stamp = stamp_seconds(msg.header)
            if not (now is None or depths.settled(stamp) or now - timestamp > DEPTH_LOOKAHEAD_S * 1e9):
                return
            waiting.popleft()
            depth_msg = depths.match(stamp)
            if depth_msg is None:
                self._count(self.summary.without_depth[topic], topic, NO_DEPTH_MATCH, timestamp,
                            f"no depth image within {depths.slop} s of this image, tracked without depth")
            self._track(topic, timestamp, msg, depth_msg, calibration, writer)

    def _track(self, topic: str, timestamp: int, msg, depth_msg, calibration, writer) -> None:
        from .image_decoding import ImageDecodeError

        try:
            frame = camera_input(msg, depth_msg, calibration)
        except ImageDecodeError as error:
            self._count(self.summary.skipped[topic], topic, error.reason, timestamp, f"skipped an image: {error}")
            return
        if frame.depth_problem is not None:
            reason, message = frame.depth_problem
            self._count(self.summary.without_depth[topic], topic, reason, timestamp, message)
        if self.tracker_intrinsics.get(topic) != calibration:
            self.tracker.set_camera_intrinsics(calibration, stream=topic)
            self.tracker_intrinsics[topic] = calibration
        # Only a frame with depth passes depths=: trackers without depth support (batch's) are called as before.
        depth_argument = {"depths": {topic: frame.depth}} if frame.depth is not None else {}
        stamp = frame_timestamp(msg.header, fallback=1e-9 * timestamp)  # this camera's own: its smoothing
        hands = self.tracker.process_streams({topic: frame.image}, timestamp=stamp, **depth_argument)[topic]
        self.summary.images_with_hands[topic] += bool(hands)
        if frame.depth is not None:
            self.summary.images_with_depth[topic] += 1
        outputs = camera_outputs(self.msgs, msg.header, frame.image, hands, calibration, self.settings)
        if outputs.pose_problem is not None:
            self._count(self.summary.without_pose[topic], topic, CALIBRATION_SIZE_MISMATCH, timestamp,
                        outputs.pose_problem)
        connections = self.results[topic]
        for kind, msgtype in RESULT_TYPES.items():
            writer.write(connections[kind], timestamp, self.typestore.serialize_cdr(getattr(outputs, kind), msgtype))
        if self.tf_connection is not None and outputs.transforms is not None:
            writer.write(self.tf_connection, timestamp, self.typestore.serialize_cdr(outputs.transforms, TF_TYPE))


def _topic_types(reader) -> dict[str, set[str]]:
    """{topic: its message types} of the bag (a topic may have connections of several types)."""
    types: dict[str, set[str]] = defaultdict(set)
    for connection in reader.connections:
        types[connection.topic].add(connection.msgtype)
    return types


def _depth_topics(reader, image_topics: list[str], depth_topics) -> dict[str, str]:
    """{image topic: its depth topic} from ``--depth-topic`` (in the order of ``--image-topic``, "" for
    none), checked against what the bag holds."""
    if not any(depth_topics):
        return {}
    if len(depth_topics) != len(image_topics):
        raise BagError(f"{len(depth_topics)} --depth-topic for {len(image_topics)} --image-topic: give one per image "
                       "topic, in the same order (\"\" for a camera without depth)")
    types = _topic_types(reader)
    for topic in filter(None, depth_topics):
        if topic not in types:
            raise BagError(f"depth topic {topic} is not in the bag")
        if DEPTH_TYPE not in types[topic]:
            raise BagError(f"depth topic {topic} holds {', '.join(sorted(types[topic]))}, not {DEPTH_TYPE}")
    return {image: depth for image, depth in zip(image_topics, depth_topics) if depth}


def _cameras(reader, image_topics: list[str]) -> dict:
    """CameraTopics of each asked-for image topic, checked against what the bag holds."""
    types = _topic_types(reader)
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
        for output in (getattr(cameras[topic], kind) for kind in RESULT_TYPES):
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
