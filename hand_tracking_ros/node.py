"""ROS 2 node ``hand_tracking_node``: a thin rclpy layer over ``HandTracker``.

The only module of the package that imports rclpy and generated messages. Everything it
decides is elsewhere and tested without ROS: parameters (``parameters``), topic names (``topics``),
from messages to every output message (``camera_outputs``, shared with the bag command: image decoding
without cv_bridge, which breaks under NumPy 2, depth, messages, markers, tf frames), depth matching by
stamp (``depth_matching``), poses into ``target_frame`` (``frame_transforms``), the newest-frame hand-off
and counters (``latest_frames``).

Threads: subscription callbacks only store each camera's newest image (and its recent depth images). One
inference thread takes the waiting images of all cameras, pairs each with its depth image (waiting up to
``depth_slop`` for one still to come), converts them and runs them through one HandTracker (each camera is
a tracker stream with its own tracks and its own stamps; the landmark model runs once for all cameras),
then publishes. When inference is slower than the cameras, images that were replaced before inference got
to them are counted as dropped; no queue grows.
"""

from __future__ import annotations

import array
import dataclasses
import importlib
import signal
import threading
import time
from collections import Counter

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseArray
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.duration import Duration
from rclpy.exceptions import ParameterException, ParameterUninitializedException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from tf2_ros import Buffer, TransformBroadcaster, TransformException, TransformListener
from visualization_msgs.msg import MarkerArray

from hand_tracking_ros.msg import HandLandmarksArray

from .backend import ProviderUnavailableError
from .camera_outputs import NO_DEPTH_MATCH, OutputSettings, camera_input, camera_outputs, frame_timestamp
from .depth_matching import DepthHistory, stamp_seconds
from .frame_transforms import pose_array_in_frame
from .image_decoding import ImageDecodeError
from .latest_frames import CameraStats, LatestFrames
from .models import ModelFileError
from .parameters import (
    PARAMETERS,
    SPECS,
    Effect,
    check_together,
    checked_changes,
    tracker_changes,
    tracker_options,
)
from .pose import CameraIntrinsics
from .ros_conversions import camera_intrinsics, message_namespace
from .topics import camera_topics
from .tracker import HandTracker

NODE_NAME = "hand_tracking_node"
WARNING_PERIOD = 5.0      # seconds between repeats of the same warning
DIAGNOSTICS_PERIOD = 1.0  # seconds
# How long the inference thread waits for tf2 to have the transform into target_frame at an image's stamp
# (tf arrives a little after the image it goes with on a moving robot).
TRANSFORM_TIMEOUT = 0.05  # seconds


def _load_message_type(typename: str) -> type:
    package, _, name = typename.split("/")
    return getattr(importlib.import_module(f"{package}.msg"), name)


MSGS = message_namespace(_load_message_type)


class StartupError(RuntimeError):
    """A parameter value the node cannot start with."""


class Camera:
    """Subscriptions, publishers and counters of one input image topic."""

    def __init__(self, node: HandTrackingNode, image_topic: str, depth_topic: str, values: dict) -> None:
        self.image_topic = image_topic
        self.topics = camera_topics(image_topic, values["image_transport"])
        self.stats = CameraStats()
        # Depth: the recent depth images by stamp, and the frames tracked without one, by reason.
        self.depths: DepthHistory | None = DepthHistory(values["depth_slop"]) if depth_topic else None
        self.without_depth: Counter = Counter()
        self.depth_problem = ""         # why the latest frame had no depth image, "" when it had one
        self.transform_problem = ""     # why the latest frame had no poses_target, "" when it had them
        self.transforms_missing = 0
        # From camera_info, replaced whole by the callback; the inference thread hands it to the tracker.
        self.intrinsics: CameraIntrinsics | None = None
        self.tracker_intrinsics: CameraIntrinsics | None = None  # what the tracker has for this camera
        self._logger = node.get_logger()
        reliability = (ReliabilityPolicy.RELIABLE if values["image_qos_reliability"] == "reliable"
                       else ReliabilityPolicy.BEST_EFFORT)
        # Depth 1: only the newest image is of any use.
        qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=reliability,
                         durability=DurabilityPolicy.VOLATILE)
        image_type = CompressedImage if values["image_transport"] == "compressed" else Image
        self.hands_publisher = node.create_publisher(HandLandmarksArray, self.topics.hands, 10)
        self.markers_publisher = node.create_publisher(MarkerArray, self.topics.markers, 10)
        self.annotated_publisher = node.create_publisher(Image, self.topics.annotated_image, 1)
        self.poses_publisher = node.create_publisher(PoseArray, self.topics.poses, 10)
        self.poses_target_publisher = (node.create_publisher(PoseArray, self.topics.poses_target, 10)
                                       if values["target_frame"] else None)
        self.subscriptions = [
            node.create_subscription(image_type, self.topics.image,
                                     lambda msg: node.on_image(self, msg), qos),
            node.create_subscription(CameraInfo, self.topics.camera_info, self.on_camera_info, qos),
        ]
        if depth_topic:
            self.subscriptions.append(node.create_subscription(Image, depth_topic, self.on_depth, qos))
        # The names as subscribed and advertised (namespace and remappings applied), for logs and diagnostics.
        self.resolved_topics = dataclasses.replace(
            self.topics, image=self.subscriptions[0].topic_name, camera_info=self.subscriptions[1].topic_name,
            hands=self.hands_publisher.topic_name, markers=self.markers_publisher.topic_name,
            annotated_image=self.annotated_publisher.topic_name, poses=self.poses_publisher.topic_name,
            poses_target=(self.poses_target_publisher.topic_name if self.poses_target_publisher is not None
                          else self.topics.poses_target))
        self.resolved_depth_topic = self.subscriptions[2].topic_name if depth_topic else ""
        self._warned_empty_frame_id = False

    def on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self.intrinsics = camera_intrinsics(msg)
        except ValueError as error:
            self.intrinsics = None
            self._logger.warning(f"{self.resolved_topics.camera_info}: cannot use this calibration, so no hand poses: "
                                 f"{error}", throttle_duration_sec=60.0)

    def on_depth(self, msg: Image) -> None:
        self.depths.put(stamp_seconds(msg.header), msg)  # decoded only when a colour image takes it

    def publishers(self) -> list:
        return [publisher for publisher in (self.hands_publisher, self.markers_publisher, self.annotated_publisher,
                                            self.poses_publisher, self.poses_target_publisher)
                if publisher is not None]

    def warn_if_no_frame_id(self, msg: Image | CompressedImage) -> None:
        # Outputs keep the image's header (an invented frame could be silently wrong in a tf tree), so markers
        # in frame "" are what RViz cannot place: say so once per camera, naming the topic.
        if not msg.header.frame_id and not self._warned_empty_frame_id:
            self._warned_empty_frame_id = True
            self._logger.warning(
                f"images on {self.resolved_topics.image} have an empty header.frame_id, and so have their hands "
                "and markers, which RViz and tf cannot place: set the camera driver's frame id (camera_frame_id "
                "of v4l2_camera, frame_id of image_publisher)")

    def destroy(self, node: Node) -> None:
        for subscription in self.subscriptions:
            node.destroy_subscription(subscription)
        for publisher in self.publishers():
            node.destroy_publisher(publisher)


# What a node that cannot start raises: ModelFileError also covers a SHA256SUMS that cannot be read; ValueError,
# an option the tracker refuses.
STARTUP_ERRORS = (StartupError, ModelFileError, ProviderUnavailableError, ValueError)


class HandTrackingNode(Node):
    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        try:
            self._start()
        except STARTUP_ERRORS as error:
            # Logged here, by the node's own logger, so the line names the node as remapped (a launch file's
            # name=, __node:=) rather than its default name. One line, whatever the message (onnxruntime's span
            # several).
            self.get_logger().fatal(f"cannot start: {' '.join(str(error).split())}")
            super().destroy_node()  # Node's own: the inference thread this class also stops never started
            raise

    def _start(self) -> None:
        try:  # rclpy refuses values of the wrong type or out of range given at start-up
            for spec in PARAMETERS:
                self.declare_parameter(spec.name, list(spec.default) if isinstance(spec.default, tuple)
                                       else spec.default, _descriptor(spec))
        except ParameterException as error:
            raise StartupError(f"invalid parameter value: {error}") from error
        try:  # the checks of a change at run time; an integer given for a double becomes a float
            self._values = checked_changes({spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS})
            check_together(self._values)
        except ParameterUninitializedException as error:
            # `-p depth_topics:=[]`, or `[]` in a parameter file: ROS 2 gives an empty list no type, so no value.
            raise StartupError(f"invalid parameter value: {error} (an empty list [] leaves a ROS 2 parameter unset: "
                               "give at least one entry, depth_topics: [\"\"] for no depth)") from error
        except ValueError as error:
            raise StartupError(f"invalid parameter value: {error}") from error
        # Fails fast (ModelFileError, ProviderUnavailableError) with a message that says what to do.
        self._tracker = HandTracker(tracker_options(self._values))
        self._lock = threading.Lock()  # guards the tracker and the cameras against the inference thread
        self._frames: LatestFrames[str, tuple[object, float]] = LatestFrames()
        self._cameras: dict[str, Camera] = {}
        # tf: created when publish_tf or target_frame first asks for them (_create_tf_outputs).
        self._tf_broadcaster: TransformBroadcaster | None = None
        self._tf_buffer: Buffer | None = None
        self._tf_listener: TransformListener | None = None
        self._create_tf_outputs()
        self._create_cameras()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._diagnostics_publisher = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(DIAGNOSTICS_PERIOD, self._publish_diagnostics)
        self._worker = threading.Thread(target=self._inference_loop, name="hand_tracking_inference", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"tracking hands on {', '.join(camera.resolved_topics.image for camera in self._cameras.values())} "
            f"with {self._tracker.execution_provider}")

    def _create_cameras(self) -> None:
        image_topics, depth_topics = self._values["image_topics"], self._values["depth_topics"]
        depth_topics = depth_topics if any(depth_topics) else ("",) * len(image_topics)  # check_together
        for topic, depth_topic in zip(image_topics, depth_topics):
            self._cameras[topic] = Camera(self, topic, depth_topic, self._values)

    def _create_tf_outputs(self) -> None:
        """The tf broadcaster (publish_tf) and listener (target_frame), once one of them is first asked for."""
        if self._values["publish_tf"] and self._tf_broadcaster is None:
            self._tf_broadcaster = TransformBroadcaster(self)
        if self._values["target_frame"] and self._tf_buffer is None:
            self._tf_buffer = Buffer()
            self._tf_listener = TransformListener(self._tf_buffer, self)

    def on_image(self, camera: Camera, msg: Image | CompressedImage) -> None:
        camera.warn_if_no_frame_id(msg)
        camera.stats.on_received(dropped_one=self._frames.put(camera.image_topic, (msg, time.monotonic())))

    # Inference thread -------------------------------------------------------------------------------------

    def _inference_loop(self) -> None:
        while not self._frames.closed:
            waiting = self._frames.take_all(timeout=0.5)
            if not waiting:
                continue
            with self._lock:
                try:
                    self._process(waiting)
                except Exception as error:  # noqa: BLE001 - whatever inference raises, the node keeps running
                    if not self.context.ok():  # Ctrl-C shut ROS down while publishing: no error, the node is exiting
                        return
                    self.get_logger().error(f"hand tracking failed on this batch of images: {error!r}",
                                            throttle_duration_sec=WARNING_PERIOD)

    def _process(self, waiting: dict[str, tuple[object, float]]) -> None:
        frames, depths, stamps, inputs = {}, {}, {}, {}
        depth_deadline = time.monotonic() + self._values["depth_slop"]  # one wait for all cameras together
        for topic, (msg, arrival) in waiting.items():
            camera = self._cameras.get(topic)
            if camera is None:  # the camera was removed after this image arrived
                continue
            try:
                frame = camera_input(msg, self._matching_depth(camera, msg, depth_deadline), camera.intrinsics)
            except ImageDecodeError as error:  # an image that cannot be turned into RGB: error.reason says why
                camera.stats.on_bad_frame()
                self.get_logger().warning(
                    f"skipping an image on {camera.resolved_topics.image} ({_describe(msg)}): {error}",
                    throttle_duration_sec=WARNING_PERIOD)
                continue
            if frame.depth_problem is not None:
                self._note_without_depth(camera, *frame.depth_problem)
            frames[topic], stamps[topic] = frame.image, frame_timestamp(msg.header)
            inputs[topic] = (camera, msg, arrival)
            if frame.depth is not None:
                depths[topic] = frame.depth
            if camera.intrinsics != camera.tracker_intrinsics:  # with intrinsics the tracker computes poses
                self._tracker.set_camera_intrinsics(camera.intrinsics, stream=topic)
                camera.tracker_intrinsics = camera.intrinsics
        if not frames:
            return
        # Each camera's own stamp: it drives that camera's smoothing.
        hands_by_topic = self._tracker.process_streams(frames, timestamp=stamps, depths=depths)
        settings = OutputSettings.from_parameters(self._values)
        for topic, hands in hands_by_topic.items():
            camera, msg, arrival = inputs[topic]
            self._publish(camera, msg, frames[topic], hands, settings)
            camera.stats.on_processed(arrival, len(hands))

    def _matching_depth(self, camera: Camera, msg, deadline: float):
        """The depth image of ``msg`` (``depth_matching``), waiting until ``deadline`` for one still to come;
        None for a camera without a depth topic or when none is within depth_slop."""
        if camera.depths is None:
            return None
        camera.depths.slop = self._values["depth_slop"]
        stamp = stamp_seconds(msg.header)
        camera.depths.wait_until_settled(stamp, max(0.0, deadline - time.monotonic()))
        depth = camera.depths.match(stamp)
        if depth is None:
            self._note_without_depth(camera, NO_DEPTH_MATCH, f"no depth image on {camera.resolved_depth_topic} "
                                                             f"within depth_slop {camera.depths.slop} s")
        else:
            camera.depth_problem = ""
        return depth

    def _note_without_depth(self, camera: Camera, reason: str, message: str) -> None:
        camera.without_depth[reason] += 1
        camera.depth_problem = message
        self.get_logger().warning(f"{camera.resolved_topics.image}: tracked without depth: {message}",
                                  throttle_duration_sec=WARNING_PERIOD)

    def _publish(self, camera: Camera, msg, image_rgb, hands, settings: OutputSettings) -> None:
        outputs = camera_outputs(MSGS, msg.header, image_rgb, hands, camera.tracker_intrinsics, settings)
        if outputs.pose_problem is not None:
            self.get_logger().warning(f"{camera.resolved_topics.camera_info}: {outputs.pose_problem} on "
                                      f"{camera.resolved_topics.image}", throttle_duration_sec=60.0)
        # The hands' tf frames first: a subscriber that looks up hand_<id> on receiving hands finds it sooner.
        if outputs.transforms is not None and self._tf_broadcaster is not None:
            self._tf_broadcaster.sendTransform(list(outputs.transforms.transforms))
        camera.hands_publisher.publish(outputs.hands)
        camera.poses_publisher.publish(outputs.poses)
        if outputs.markers is not None:
            camera.markers_publisher.publish(outputs.markers)
        if outputs.annotated_image is not None:
            fields = outputs.annotated_image
            # array.array is what rclpy's uint8[] setter takes without checking every byte in Python.
            camera.annotated_publisher.publish(Image(header=msg.header, **{**fields,
                                                                           "data": array.array("B", fields["data"])}))
        if camera.poses_target_publisher is not None and self._tf_buffer is not None:
            self._publish_target_poses(camera, outputs.poses)

    def _publish_target_poses(self, camera: Camera, poses: PoseArray) -> None:
        target, source = self._values["target_frame"], poses.header.frame_id
        try:
            transform = self._tf_buffer.lookup_transform(target, source, Time.from_msg(poses.header.stamp),
                                                         timeout=Duration(seconds=TRANSFORM_TIMEOUT))
        except TransformException as error:
            camera.transforms_missing += 1
            camera.transform_problem = (f"no transform from {source or '(empty frame_id)'!r} to {target!r} at the "
                                        f"image's stamp, so nothing on {camera.resolved_topics.poses_target}: "
                                        f"{' '.join(str(error).split())}")
            self.get_logger().warning(camera.transform_problem, throttle_duration_sec=WARNING_PERIOD)
            return
        camera.transform_problem = ""
        camera.poses_target_publisher.publish(pose_array_in_frame(MSGS, poses, transform))

    # Parameters ------------------------------------------------------------------------------------------

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        try:  # the checks and conversions of start-up; the reason names the parameter
            changes = checked_changes({parameter.name: parameter.value for parameter in parameters
                                       if parameter.name in SPECS})
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        changed = {name: value for name, value in changes.items() if value != self._values[name]}
        try:  # parameters that depend on each other, as they would be after this change
            check_together({**self._values, **changes})
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        for_tracker = tracker_changes(changed)
        if for_tracker:
            try:  # all at once, between two frames; new models load first, so a failure changes nothing
                self._tracker.update(**for_tracker)
            except (ValueError, ModelFileError, ProviderUnavailableError) as error:
                return SetParametersResult(successful=False, reason=str(error))
            if any(SPECS[name].changes_models for name in for_tracker):
                self.get_logger().info(f"models loaded again; they run on {self._tracker.execution_provider}")
        with self._lock:
            self._values = {**self._values, **changes}
            self._create_tf_outputs()
            if any(SPECS[name].effect is Effect.RESUBSCRIBE for name in changed):
                for camera in self._cameras.values():
                    camera.destroy(self)
                    self._frames.discard(camera.image_topic)
                self._cameras.clear()
                self._tracker.reset()
                self._create_cameras()
        return SetParametersResult(successful=True)

    # Diagnostics -----------------------------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        for camera in list(self._cameras.values()):
            summary = camera.stats.summary()
            status = DiagnosticStatus(name=f"{self.get_fully_qualified_name()}: {camera.resolved_topics.image}",
                                      hardware_id=camera.resolved_topics.image)
            if summary["input_rate_hz"] == 0.0:
                status.level = DiagnosticStatus.WARN
                status.message = f"no images received on {camera.resolved_topics.image}"
            elif camera.transform_problem or camera.depth_problem:  # the outputs asked for that are missing
                status.level = DiagnosticStatus.WARN
                status.message = camera.transform_problem or camera.depth_problem
            else:
                status.level = DiagnosticStatus.OK
                status.message = (f"{summary['processed_rate_hz']:.1f} Hz, latency "
                                  f"{summary['latency_ms_median']:.0f} ms, {summary['hands']} hands")
            values = {**summary, "execution_provider": self._tracker.execution_provider}
            if camera.depths is not None:
                values.update(depth_topic=camera.resolved_depth_topic,
                              frames_without_depth=sum(camera.without_depth.values()),
                              depth_images_refused=self._tracker.depth_errors.get(camera.image_topic, 0),
                              **{f"without_depth: {reason}": count for reason, count in camera.without_depth.items()})
            if camera.poses_target_publisher is not None:
                values.update(target_frame=self._values["target_frame"], transforms_missing=camera.transforms_missing)
            status.values = [KeyValue(key=key, value=f"{value:.2f}" if isinstance(value, float) else str(value))
                             for key, value in values.items()]
            array.status.append(status)
        self._diagnostics_publisher.publish(array)

    def destroy_node(self) -> None:
        self._frames.close()
        self._worker.join(timeout=5.0)
        super().destroy_node()


def _describe(msg: Image | CompressedImage) -> str:
    if isinstance(msg, CompressedImage):
        return f"format {msg.format!r}, {len(msg.data)} bytes"
    return f"encoding {msg.encoding!r}, {msg.width}x{msg.height}, {len(msg.data)} bytes"


def _descriptor(spec) -> ParameterDescriptor:
    # Ranges go in the descriptor's ranges, which rclpy enforces and `ros2 param describe` shows; choices only
    # fit in its free text. A double parameter is dynamically typed because rclpy refuses an integer for a
    # statically typed double (`-p min_detection_confidence:=1`); parameters.check converts the integer and
    # refuses any other type, both at start-up and in _on_set_parameters.
    descriptor = ParameterDescriptor(description=spec.description,
                                     additional_constraints=spec.range_text if spec.choices else "",
                                     dynamic_typing=isinstance(spec.default, float))
    if spec.minimum is not None and isinstance(spec.default, float):
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(spec.minimum), to_value=float(spec.maximum), step=0.0)]
    elif spec.minimum is not None:
        descriptor.integer_range = [IntegerRange(from_value=int(spec.minimum), to_value=int(spec.maximum), step=1)]
    return descriptor


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    try:
        node = HandTrackingNode()
    except STARTUP_ERRORS:  # the node has logged why
        rclpy.try_shutdown()
        return 1
    except KeyboardInterrupt:  # Ctrl-C (or `ros2 launch` shutting down) while the models load: no error
        rclpy.try_shutdown()
        return 0
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # Ctrl-C on `ros2 launch` reaches the node twice (from the terminal and forwarded by launch). The second
        # SIGINT must not cut the clean-up short: a KeyboardInterrupt in the join of the inference thread skipped
        # the rest, and the process then aborted at exit ("terminate called without an active exception", exit
        # code -6). The process is exiting anyway, so clean-up ignores it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
