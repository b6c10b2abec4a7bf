"""Launch test of the installed hand_tracking_node with real images (needs ROS 2 and a built workspace).

    colcon build && source install/setup.bash
    colcon test --packages-select hand_tracking_ros    # runs it through launch_test (CMakeLists.txt)
    launch_test test/test_node_launch.py               # the same, directly

Only launch_testing's runner runs it. Plain pytest does not (the launch_testing pytest plugin of Humble and
Jazzy cannot collect it under pytest 8 and 9): test/conftest.py reports it as skipped there, with or without
ROS 2, and never imports it. Without the test images in ../shared/data the tests that need them skip.
"""

from __future__ import annotations

import array
import tempfile
import time
import unittest
from pathlib import Path

import cv2
import launch_testing
import launch_testing.actions
import launch_testing.asserts
import rclpy
from ament_index_python.packages import get_package_share_directory
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseArray
from launch import LaunchDescription
from launch_ros.actions import Node
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.parameter import Parameter, parameter_value_to_python
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from hand_tracking_ros.image_decoding import rgb_image_fields
from hand_tracking_ros.msg import HandLandmarks, HandLandmarksArray

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATA_MISSING = not (DATA_DIR / "hands" / "thumbs_up.png").is_file()
CAMERA = "/test_cam/image_raw"
# A relative image topic, remapped: logs and diagnostics must name the topic the node really subscribes.
RELATIVE_CAMERA, REMAPPED_CAMERA = "relative_cam/image_raw", "/remapped_cam/image_raw"
NODE = "/hand_tracking_node"
# A node that broadcasts the hands as tf frames (publish_tf), for a camera with camera_info.
TF_CAMERA, TF_PREFIX = "/tf_cam/image_raw", "launch_test_"
TIMEOUT = 60.0  # seconds; the first images wait for the models to load


def generate_test_description():
    node = Node(package="hand_tracking_ros", executable="hand_tracking_node", name="hand_tracking_node",
                output="screen", remappings=[(RELATIVE_CAMERA, REMAPPED_CAMERA)],
                parameters=[{"image_topics": [CAMERA, RELATIVE_CAMERA], "publish_annotated_image": True,
                             "device": "cpu"}])
    # A second node whose models folder has a SHA256SUMS it cannot read: it must stop with one fatal line
    # and exit status 1 (the models themselves are the installed ones, linked).
    broken_models = tempfile.TemporaryDirectory(prefix="hand_tracking_launch_test_")
    for model in (Path(get_package_share_directory("hand_tracking_ros")) / "models").glob("*.onnx"):
        (Path(broken_models.name) / model.name).symlink_to(model)
    (Path(broken_models.name) / "SHA256SUMS").write_text("not a checksum line\n")
    broken_node = Node(package="hand_tracking_ros", executable="hand_tracking_node", name="broken_models_node",
                       output="screen", additional_env={"HAND_TRACKING_MODELS_DIR": broken_models.name},
                       parameters=[{"image_topics": ["/broken_cam/image_raw"], "device": "cpu"}])
    tf_node = Node(package="hand_tracking_ros", executable="hand_tracking_node", name="tf_hand_tracking_node",
                   output="screen", parameters=[{"image_topics": [TF_CAMERA], "publish_tf": True,
                                                 "tf_prefix": TF_PREFIX, "device": "cpu"}])
    # `[]` leaves a ROS 2 parameter unset (an empty list has no type): one fatal line and exit status 1 too.
    empty_list_node = Node(package="hand_tracking_ros", executable="hand_tracking_node", name="empty_list_node",
                           output="screen", ros_arguments=["-p", "depth_topics:=[]"],
                           parameters=[{"image_topics": ["/empty_list_cam/image_raw"], "device": "cpu"}])
    return (LaunchDescription([node, broken_node, tf_node, empty_list_node, launch_testing.actions.ReadyToTest()]),
            {"tracking_node": node, "broken_node": broken_node, "broken_models": broken_models, "tf_node": tf_node,
             "empty_list_node": empty_list_node})


def _image_message(path: Path, frame_id: str = "test_cam_optical_frame") -> Image:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    # Camera-sized (640 wide): a 1920x1280 raw image does not get through best-effort DDS with default
    # socket buffers, and the node subscribes best effort by default (sensor-data QoS).
    bgr = cv2.resize(bgr, (640, round(bgr.shape[0] * 640 / bgr.shape[1])), interpolation=cv2.INTER_AREA)
    # The node's own encoder (no cv_bridge, which the node does not depend on); array.array is what rclpy's
    # uint8[] field takes without checking every byte.
    fields = rgb_image_fields(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    message = Image(**{**fields, "data": array.array("B", fields["data"])})
    message.header.frame_id = frame_id
    return message


def _camera_info(image: Image) -> CameraInfo:
    """A pinhole calibration for ``image``: focal length = image width, principal point at the centre."""
    info = CameraInfo(width=image.width, height=image.height, distortion_model="plumb_bob", d=[0.0] * 5)
    info.k = [float(image.width), 0.0, image.width / 2, 0.0, float(image.width), image.height / 2, 0.0, 0.0, 1.0]
    info.header.frame_id = image.header.frame_id
    return info


@unittest.skipIf(DATA_MISSING, f"test images not found in {DATA_DIR} (the shared/ folder must sit beside the "
                                "repository)")
class TestHandTrackingNode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node("hand_tracking_launch_test")
        cls.hand_image = _image_message(DATA_DIR / "hands" / "thumbs_up.png")
        cls.set_client = cls.node.create_client(SetParameters, f"{NODE}/set_parameters")
        cls.get_client = cls.node.create_client(GetParameters, f"{NODE}/get_parameters")

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    # helpers ---------------------------------------------------------------------------------------------

    def _collect(self, msg_type, topic: str) -> list:
        received = []
        self.node.create_subscription(msg_type, topic, received.append, 10)
        return received

    def _publish_until(self, publisher, message, condition, timeout: float = TIMEOUT, also=()) -> None:
        """Publish ``message`` (freshly stamped) every 0.1 s until ``condition()`` or fail after ``timeout``;
        ``also``: (publisher, message) pairs published with it, stamped alike (camera_info)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message.header.stamp = self.node.get_clock().now().to_msg()
            for other_publisher, other in also:
                other.header.stamp = message.header.stamp
                other_publisher.publish(other)
            publisher.publish(message)
            end = time.monotonic() + 0.1
            while time.monotonic() < end:
                rclpy.spin_once(self.node, timeout_sec=0.02)
            if condition():
                return
        self.fail(f"no result within {timeout} s")

    def _spin_until(self, condition, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not condition():
            rclpy.spin_once(self.node, timeout_sec=0.1)
        self.assertTrue(condition(), f"not seen within {timeout} s")

    def _call(self, client, request):
        self.assertTrue(client.wait_for_service(timeout_sec=TIMEOUT), f"{client.srv_name} not available")
        future = client.call_async(request)
        rclpy.spin_until_future_complete(self.node, future, timeout_sec=TIMEOUT)
        self.assertTrue(future.done(), f"{client.srv_name} did not answer")
        return future.result()

    def _set(self, **values):
        request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()
                                                    for name, value in values.items()])
        return self._call(self.set_client, request).results

    def _get(self, name: str):
        (value,) = self._call(self.get_client, GetParameters.Request(names=[name])).values
        return parameter_value_to_python(value)

    # tests ----------------------------------------------------------------------------------------------

    def test_0_logs_and_diagnostics_name_the_resolved_topics(self, proc_output, tracking_node):
        proc_output.assertWaitFor(f"tracking hands on {CAMERA}, {REMAPPED_CAMERA} ", process=tracking_node,
                                  timeout=TIMEOUT)
        diagnostics = self._collect(DiagnosticArray, "/diagnostics")

        def remapped_status():
            return next((status for array in diagnostics for status in array.status
                         if status.hardware_id == REMAPPED_CAMERA), None)

        self._spin_until(remapped_status, timeout=10.0)
        self.assertEqual(remapped_status().name, f"{NODE}: {REMAPPED_CAMERA}")
        self.assertEqual(remapped_status().message, f"no images received on {REMAPPED_CAMERA}")

    def test_1_real_image_gives_a_hand_with_21_landmarks(self):
        publisher = self.node.create_publisher(Image, CAMERA, 10)
        hands = self._collect(HandLandmarksArray, "/test_cam/hands")
        markers = self._collect(MarkerArray, "/test_cam/hands/markers")
        annotated = self._collect(Image, "/test_cam/hands/image")
        self._publish_until(publisher, self.hand_image,
                            lambda: any(m.hands for m in hands) and markers and annotated)

        result = next(m for m in hands if m.hands)
        self.assertEqual(result.header.frame_id, "test_cam_optical_frame")
        self.assertEqual((result.image_width, result.image_height),
                         (self.hand_image.width, self.hand_image.height))
        hand = result.hands[0]
        self.assertEqual(len(hand.landmarks), 21)
        self.assertEqual(len(hand.world_landmarks), 21)
        self.assertEqual(hand.handedness, "right")  # MediaPipe's reference says so for this photo
        self.assertTrue(all(0 <= p.x <= result.image_width and 0 <= p.y <= result.image_height
                            for p in hand.landmarks))
        self.assertFalse(hand.pose_valid)  # no camera_info published: no metric pose
        self.assertEqual(hand.depth_source, HandLandmarks.DEPTH_NONE)
        self.assertEqual(len(hand.finger_flexion), HandLandmarks.NUM_FLEXION_JOINTS)
        self.assertEqual(markers[-1].markers[0].action, Marker.DELETEALL)
        self.assertEqual((annotated[-1].width, annotated[-1].encoding), (self.hand_image.width, "rgb8"))

    def test_2_parameters_change_at_run_time_and_bad_values_are_refused(self):
        (ok,) = self._set(max_num_hands=1)
        self.assertTrue(ok.successful, ok.reason)
        self.assertEqual(self._get("max_num_hands"), 1)

        for bad, expected in (({"min_detection_confidence": 1.5}, "min_detection_confidence"),
                              ({"device": "gpu"}, "device must be one of"),
                              ({"image_topics": ["/a/image_raw", "/a/image_rect"]}, "same namespace")):
            (result,) = self._set(**bad)
            self.assertFalse(result.successful, bad)
            self.assertIn(expected, result.reason)
        self.assertEqual(self._get("device"), "cpu")

        # A new model and a second camera at run time: each camera's results go to its own namespace.
        (ok,) = self._set(model_complexity=0)
        self.assertTrue(ok.successful, ok.reason)
        (ok,) = self._set(image_topics=[CAMERA, "/second_cam/image_raw"])
        self.assertTrue(ok.successful, ok.reason)
        second = self._collect(HandLandmarksArray, "/second_cam/hands")
        publisher = self.node.create_publisher(Image, "/second_cam/image_raw", 10)
        self._publish_until(publisher, self.hand_image, lambda: any(m.hands for m in second))
        self.assertEqual(len(second[-1].hands[0].landmarks), 21)

    def test_3_corrupt_images_do_not_stop_it(self, proc_output):
        publisher = self.node.create_publisher(Image, CAMERA, 10)
        truncated = _image_message(DATA_DIR / "hands" / "thumbs_up.png")
        truncated.data = truncated.data[:1000]
        unsupported = Image(encoding="32FC1", width=4, height=4, step=16, data=bytes(64))
        empty = Image(encoding="bgr8", width=0, height=0, step=0, data=b"")
        for bad in (truncated, unsupported, empty):
            bad.header.stamp = self.node.get_clock().now().to_msg()
            publisher.publish(bad)
            time.sleep(0.3)  # one at a time, so that none replaces another before it is looked at
        proc_output.assertWaitFor("skipping an image on /test_cam/image_raw", timeout=10)

        hands = self._collect(HandLandmarksArray, "/test_cam/hands")
        self._publish_until(publisher, self.hand_image, lambda: any(m.hands for m in hands))

        # All three were seen and counted as bad (the warning is throttled, the diagnostics are not).
        diagnostics = self._collect(DiagnosticArray, "/diagnostics")

        def bad_frames():
            values = [dict((kv.key, kv.value) for kv in status.values) for array in diagnostics
                      for status in array.status if status.hardware_id == CAMERA]
            return values[-1]["frames_bad"] if values else None

        self._publish_until(publisher, self.hand_image, lambda: bad_frames() is not None, timeout=5.0)
        self.assertEqual(bad_frames(), "3")

    def test_4_empty_frame_id_is_kept_and_warned_about_naming_the_topic(self, proc_output, tracking_node):
        # /second_cam/image_raw (added by test_2) has seen no image without a frame_id yet.
        publisher = self.node.create_publisher(Image, "/second_cam/image_raw", 10)
        hands = self._collect(HandLandmarksArray, "/second_cam/hands")
        no_frame = _image_message(DATA_DIR / "hands" / "thumbs_up.png", frame_id="")
        self._publish_until(publisher, no_frame, lambda: any(m.hands for m in hands))
        self.assertEqual(next(m for m in hands if m.hands).header.frame_id, "")  # no invented frame
        proc_output.assertWaitFor("images on /second_cam/image_raw have an empty header.frame_id",
                                  process=tracking_node, timeout=10)


    def test_5_publish_tf_gives_hand_frames_poses_and_markers(self):
        image = _image_message(DATA_DIR / "hands" / "thumbs_up.png", frame_id="tf_cam_optical_frame")
        image_publisher = self.node.create_publisher(Image, TF_CAMERA, 10)
        info_publisher = self.node.create_publisher(CameraInfo, "/tf_cam/camera_info", 10)
        hands = self._collect(HandLandmarksArray, "/tf_cam/hands")
        poses = self._collect(PoseArray, "/tf_cam/hands/poses")
        markers = self._collect(MarkerArray, "/tf_cam/hands/markers")
        tf_messages = self._collect(TFMessage, "/tf")

        def hand_frames():
            return [transform for message in tf_messages for transform in message.transforms
                    if transform.child_frame_id.startswith(f"{TF_PREFIX}hand_")]

        def posed_frame():
            """The first image's hands with a metric pose, and its PoseArray (the same stamp), once both came."""
            return next(((array, pose_array) for array in hands if array.hands and array.hands[0].pose_valid
                         for pose_array in poses if pose_array.header.stamp == array.header.stamp), None)

        self._publish_until(image_publisher, image, lambda: hand_frames() and posed_frame() and markers,
                            also=[(info_publisher, _camera_info(image))])

        frame = hand_frames()[-1]
        self.assertEqual(frame.header.frame_id, "tf_cam_optical_frame")  # child of the image's frame
        self.assertIn(frame.child_frame_id, {f"{TF_PREFIX}hand_{hand.id}" for m in hands for hand in m.hands})
        self.assertTrue(0.05 < frame.transform.translation.z < 5.0)
        posed, pose_array = posed_frame()
        self.assertEqual(posed.hands[0].depth_source, HandLandmarks.DEPTH_HAND_MODEL)  # camera_info, no depth
        # One wrist pose per hand, in the order of hands, at the wrist of landmarks_camera.
        self.assertEqual(len(pose_array.poses), len(posed.hands))
        self.assertAlmostEqual(pose_array.poses[0].position.z, posed.hands[0].landmarks_camera[0].z, places=5)
        self.assertEqual(markers[-1].markers[0].action, Marker.DELETEALL)


class TestNodesThatCannotStart(unittest.TestCase):
    def test_unreadable_sha256sums_stops_the_node_with_one_fatal_line(self, proc_output, broken_node,
                                                                       broken_models):
        proc_output.assertWaitFor(f"cannot start: {broken_models.name}/SHA256SUMS, line 1: ",
                                  process=broken_node, timeout=TIMEOUT)

    def test_empty_list_parameter_stops_the_node_with_one_fatal_line(self, proc_output, empty_list_node):
        proc_output.assertWaitFor("an empty list [] leaves a ROS 2 parameter unset", process=empty_list_node,
                                  timeout=TIMEOUT)


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_node_exits_cleanly(self, proc_info, tracking_node, tf_node):
        launch_testing.asserts.assertExitCodes(proc_info, process=tracking_node)
        launch_testing.asserts.assertExitCodes(proc_info, process=tf_node)

    def test_node_with_unreadable_models_exits_with_status_1(self, proc_info, broken_node):
        launch_testing.asserts.assertExitCodes(proc_info, [1], process=broken_node)

    def test_node_with_an_empty_list_parameter_exits_with_status_1(self, proc_info, empty_list_node):
        launch_testing.asserts.assertExitCodes(proc_info, [1], process=empty_list_node)
