"""ROS 2 node ``hand_tracking_node``: a thin rclpy layer over ``HandTracker``.

The only module of the package that imports rclpy and generated messages. Everything it
decides is elsewhere and tested without ROS: parameters (``parameters``), topic names (``topics``),
image decoding (``image_decoding``: no cv_bridge, which breaks under NumPy 2), messages and markers
(``ros_conversions``), the newest-frame hand-off and counters (``latest_frames``).

Threads: subscription callbacks only store each camera's newest image. One inference thread takes the
waiting images of all cameras, converts them to RGB and runs them through one HandTracker (each
camera is a tracker stream with its own tracks; the landmark model runs once for all cameras), then
publishes. When inference is slower than the cameras, images that were replaced before inference got to
them are counted as dropped; no queue grows.
"""

from __future__ import annotations

import array
import contextlib
import dataclasses
import importlib
import threading
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from hand_tracking_ros.msg import HandLandmarksArray

from .backend import ProviderUnavailableError
from .drawing import draw_hands
from .image_decoding import ImageDecodeError, message_to_rgb, rgb_image_fields
from .latest_frames import CameraStats, LatestFrames
from .models import ModelFileError
from .parameters import PARAMETERS, SPECS, Effect, checked_changes, tracker_changes, tracker_options
from .pose import CameraIntrinsics
from .ros_conversions import (
    assumed_intrinsics,
    camera_intrinsics,
    hand_landmarks_array,
    hand_markers,
    message_namespace,
)
from .topics import camera_topics
from .tracker import HandTracker

NODE_NAME = "hand_tracking_node"
WARNING_PERIOD = 5.0      # seconds between repeats of the same warning
DIAGNOSTICS_PERIOD = 1.0  # seconds
# Raised for images that cannot be turned into RGB (unsupported encoding, inconsistent step or size, short
# or undecodable data): ImageDecodeError.reason says which.
IMAGE_CONVERSION_ERRORS = (ImageDecodeError,)


def _load_message_type(typename: str) -> type:
    package, _, name = typename.split("/")
    return getattr(importlib.import_module(f"{package}.msg"), name)


MSGS = message_namespace(_load_message_type)


class StartupError(RuntimeError):
    """A parameter value the node cannot start with."""


class Camera:
    """Subscriptions, publishers and counters of one input image topic."""

    def __init__(self, node: HandTrackingNode, image_topic: str, values: dict) -> None:
        self.image_topic = image_topic
        self.topics = camera_topics(image_topic, values["image_transport"])
        self.stats = CameraStats()
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
        self.subscriptions = [
            node.create_subscription(image_type, self.topics.image,
                                     lambda msg: node.on_image(self, msg), qos),
            node.create_subscription(CameraInfo, self.topics.camera_info, self.on_camera_info, qos),
        ]
        # The names as subscribed and advertised (namespace and remappings applied), for logs and diagnostics.
        self.resolved_topics = dataclasses.replace(
            self.topics, image=self.subscriptions[0].topic_name, camera_info=self.subscriptions[1].topic_name,
            hands=self.hands_publisher.topic_name, markers=self.markers_publisher.topic_name,
            annotated_image=self.annotated_publisher.topic_name)
        self._warned_empty_frame_id = False

    def on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self.intrinsics = camera_intrinsics(msg)
        except ValueError as error:
            self.intrinsics = None
            self._logger.warning(f"{self.resolved_topics.camera_info}: cannot use this calibration, so no hand poses: "
                                 f"{error}", throttle_duration_sec=60.0)

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
        for publisher in (self.hands_publisher, self.markers_publisher, self.annotated_publisher):
            node.destroy_publisher(publisher)


class HandTrackingNode(Node):
    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        try:  # rclpy refuses values of the wrong type or out of range given at start-up
            for spec in PARAMETERS:
                self.declare_parameter(spec.name, list(spec.default) if isinstance(spec.default, tuple)
                                       else spec.default, _descriptor(spec))
        except ParameterException as error:
            raise StartupError(f"invalid parameter value: {error}") from error
        try:  # the checks of a change at run time; an integer given for a double becomes a float
            self._values = checked_changes({spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS})
        except ValueError as error:
            raise StartupError(f"invalid parameter value: {error}") from error
        # Fails fast (ModelFileError, ProviderUnavailableError) with a message that says what to do.
        self._tracker = HandTracker(tracker_options(self._values))
        self._lock = threading.Lock()  # guards the tracker and the cameras against the inference thread
        self._frames: LatestFrames[str, tuple[object, float]] = LatestFrames()
        self._cameras: dict[str, Camera] = {}
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
        for topic in self._values["image_topics"]:
            self._cameras[topic] = Camera(self, topic, self._values)

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
                    self.get_logger().error(f"hand tracking failed on this batch of images: {error!r}",
                                            throttle_duration_sec=WARNING_PERIOD)

    def _process(self, waiting: dict[str, tuple[object, float]]) -> None:
        images, inputs = {}, {}
        for topic, (msg, arrival) in waiting.items():
            camera = self._cameras.get(topic)
            if camera is None:  # the camera was removed after this image arrived
                continue
            try:
                images[topic] = self._to_rgb(msg)
            except IMAGE_CONVERSION_ERRORS as error:
                camera.stats.on_bad_frame()
                self.get_logger().warning(
                    f"skipping an image on {camera.resolved_topics.image} ({_describe(msg)}): {error}",
                    throttle_duration_sec=WARNING_PERIOD)
                continue
            inputs[topic] = (camera, msg, arrival)
            if camera.intrinsics != camera.tracker_intrinsics:  # with intrinsics the tracker computes poses
                self._tracker.set_camera_intrinsics(camera.intrinsics, stream=topic)
                camera.tracker_intrinsics = camera.intrinsics
        if not images:
            return
        stamps = [msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec for _, msg, _ in inputs.values()]
        hands_by_topic = self._tracker.process_streams(images, timestamp=max(stamps) if max(stamps) > 0 else None)
        for topic, hands in hands_by_topic.items():
            camera, msg, arrival = inputs[topic]
            self._publish(camera, msg, images[topic], hands)
            camera.stats.on_processed(arrival, len(hands))

    def _to_rgb(self, msg: Image | CompressedImage):
        return message_to_rgb(msg)  # honours step and byte order; ImageDecodeError for what it cannot read

    def _publish(self, camera: Camera, msg, image_rgb, hands) -> None:
        height, width = image_rgb.shape[:2]
        calibration = camera.tracker_intrinsics
        intrinsics = calibration.for_image_size(width, height) if calibration is not None else None
        if calibration is not None and intrinsics is None:  # the tracker made no poses with it either
            self.get_logger().warning(
                f"{camera.resolved_topics.camera_info} is for {calibration.width}x{calibration.height} images, "
                f"those on {camera.resolved_topics.image} are {width}x{height} and no resize of it: no hand poses",
                throttle_duration_sec=60.0)
        camera.hands_publisher.publish(hand_landmarks_array(MSGS, msg.header, width, height, hands))
        if self._values["publish_markers"]:
            intrinsics = intrinsics or assumed_intrinsics(width, height)
            camera.markers_publisher.publish(
                hand_markers(MSGS, msg.header, hands, intrinsics, self._values["marker_assumed_depth"]))
        if self._values["publish_annotated_image"]:
            fields = rgb_image_fields(draw_hands(image_rgb, hands))
            # array.array is what rclpy's uint8[] setter takes without checking every byte in Python.
            camera.annotated_publisher.publish(Image(header=msg.header, **{**fields,
                                                                           "data": array.array("B", fields["data"])}))

    # Parameters ------------------------------------------------------------------------------------------

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        try:  # the checks and conversions of start-up; the reason names the parameter
            changes = checked_changes({parameter.name: parameter.value for parameter in parameters
                                       if parameter.name in SPECS})
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        changed = {name: value for name, value in changes.items() if value != self._values[name]}
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
            else:
                status.level = DiagnosticStatus.OK
                status.message = (f"{summary['processed_rate_hz']:.1f} Hz, latency "
                                  f"{summary['latency_ms_median']:.0f} ms, {summary['hands']} hands")
            values = {**summary, "execution_provider": self._tracker.execution_provider}
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
    except (StartupError, ModelFileError, ProviderUnavailableError, ValueError) as error:
        # ModelFileError also covers a SHA256SUMS that cannot be read; ValueError, an option the tracker refuses.
        # One line, whatever the message (onnxruntime's span several).
        rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {' '.join(str(error).split())}")
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
        # Ctrl-C on `ros2 launch` reaches the node twice (from the terminal and forwarded by launch); the
        # second SIGINT, arriving during clean-up, is no error: the process is exiting anyway.
        with contextlib.suppress(KeyboardInterrupt):
            node.destroy_node()
            rclpy.try_shutdown()
    return 0
