"""Hand tracking on one camera, with an optional camera driver and RViz.

    ros2 launch hand_tracking_ros hand_tracking.launch.py image_topic:=/camera/image_raw
    ros2 launch hand_tracking_ros hand_tracking.launch.py camera:=v4l2 rviz:=true
    ros2 launch hand_tracking_ros hand_tracking.launch.py camera:=file file:=/path/to/video.mp4 rviz:=true
    # An RGB-D camera (RealSense started with align_depth.enable:=true), hands as tf frames:
    ros2 launch hand_tracking_ros hand_tracking.launch.py image_topic:=/camera/camera/color/image_raw \
        depth_topic:=/camera/camera/aligned_depth_to_color/image_raw publish_tf:=true

Results go to the image topic's namespace (/camera/hands, /camera/hands/markers, /camera/hands/poses,
/camera/hands/image).
Several cameras: list them in image_topics of your own parameter file and pass params_file:=that.yaml.
camera:=v4l2, camera:=file and rviz:=true need ros-$ROS_DISTRO-v4l2-camera, ros-$ROS_DISTRO-image-publisher and
ros-$ROS_DISTRO-rviz2; without them the launch stops before it starts any node and says what to install.
"""

import os
from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnShutdown
from launch.substitutions import LaunchConfiguration, SubstitutionFailure
from launch_ros.actions import Node
from launch_ros.substitutions import ExecutableInPackage

from hand_tracking_ros.launch_support import (
    CAMERA_NODES,
    RVIZ_NODE,
    apt_package,
    missing_packages_message,
    optional_nodes,
    rviz_config,
    write_private_file,
)
from hand_tracking_ros.topics import camera_topics

SHARE = Path(get_package_share_directory("hand_tracking_ros"))
DEFAULT_PARAMS = str(SHARE / "config" / "hand_tracking.yaml")
DEFAULT_IMAGE_TOPIC = "/camera/image_raw"

ARGUMENTS = [
    ("image_topic", "",
     f"Image topic to track (sensor_msgs/Image). Default: {DEFAULT_IMAGE_TOPIC}, or the image_topics of "
     "params_file when you pass your own file (several cameras) and start no camera."),
    ("depth_topic", "",
     "Aligned depth image topic of image_topic (sensor_msgs/Image, 16UC1 millimetres or 32FC1 metres, registered "
     "to the colour image), for example /camera/camera/aligned_depth_to_color/image_raw of a RealSense started "
     "with align_depth.enable:=true. Hands then get their 3D landmarks from it (needs camera_info). Default: none."),
    ("publish_tf", "false",
     "true: broadcast each tracked hand with a metric pose as the tf frame hand_<id>, child of the image's "
     "frame (false: as params_file says)."),
    ("params_file", DEFAULT_PARAMS, "Parameter file of hand_tracking_node."),
    ("camera", "none",
     "Camera to start: none (use a running one), v4l2 (USB camera via v4l2_camera) or file (image_publisher "
     "plays the file given by file:=, an image or a video, in a loop)."),
    ("video_device", "/dev/video0", "Device of the v4l2 camera."),
    ("file", "", "Image or video file for camera:=file."),
    ("publish_rate", "30.0", "Frames per second of camera:=file."),
    ("field_of_view", "60.0",
     "Horizontal field of view in degrees that image_publisher puts in camera_info for camera:=file."),
    ("frame_id", "camera", "frame_id of the started camera's images; also RViz's fixed frame."),
    ("rviz", "false", "Start RViz with config/hand_tracking.rviz (also switches the annotated image on)."),
    ("log_level", "info", "Log level of hand_tracking_node."),
]


def _check_optional_nodes(context, camera: str, rviz: bool) -> None:
    """Find the executable of every optional node the way launch_ros will when it starts it, and fail now,
    before any node starts, where one is missing."""
    distro = os.environ.get("ROS_DISTRO")
    missing = {}
    for (package, executable), argument in optional_nodes(camera, rviz).items():
        try:
            ExecutableInPackage(executable, package).perform(context)
        except PackageNotFoundError:
            missing[package] = argument
        except SubstitutionFailure as failure:
            raise RuntimeError(f"{argument}: {failure}; reinstall {apt_package(package, distro)}") from None
    if missing:
        raise RuntimeError(missing_packages_message(missing, distro))


def launch_setup(context):
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    def number(name: str) -> float:
        try:
            return float(arg(name))
        except ValueError:
            raise ValueError(f"{name}:={arg(name)} is not a number") from None

    def boolean(name: str) -> bool:
        if arg(name).lower() not in ("true", "false"):
            raise ValueError(f"{name}:={arg(name)} is not true or false")
        return arg(name).lower() == "true"

    camera, rviz, publish_tf = arg("camera"), boolean("rviz"), boolean("publish_tf")
    if camera not in ("none", "v4l2", "file"):
        raise ValueError(f"camera:={camera} is not one of none, v4l2, file")
    # Every check comes before the actions are returned: one failing after a node started leaves it running.
    _check_optional_nodes(context, camera, rviz)
    own_params_file = arg("params_file") != DEFAULT_PARAMS
    # None: the topics come from the user's parameter file.
    image_topic = arg("image_topic") or (None if own_params_file and camera == "none" else DEFAULT_IMAGE_TOPIC)
    if camera == "file" and not arg("file"):
        raise ValueError("camera:=file needs file:=/path/to/image_or_video")
    if arg("depth_topic") and not image_topic:
        raise ValueError("depth_topic:= goes with image_topic:=; for the cameras of your params_file, list their "
                         "depth_topics there")
    overrides = {}
    if image_topic:
        overrides["image_topics"] = [image_topic]
    if arg("depth_topic"):
        overrides["depth_topics"] = [arg("depth_topic")]
    if publish_tf:
        overrides["publish_tf"] = True
    if rviz:
        overrides["publish_annotated_image"] = True
    actions = [Node(
        package="hand_tracking_ros", executable="hand_tracking_node", name="hand_tracking_node", output="screen",
        parameters=[arg("params_file"), overrides], ros_arguments=["--log-level", arg("log_level")])]

    if camera != "none":
        topics = camera_topics(image_topic)
        remappings = [("image_raw", image_topic), ("camera_info", topics.camera_info)]
        package, executable = CAMERA_NODES[camera]
        if camera == "v4l2":
            actions.append(Node(package=package, executable=executable, output="screen",
                                parameters=[{"video_device": arg("video_device"), "camera_frame_id": arg("frame_id")}],
                                remappings=remappings))
        else:
            actions.append(Node(package=package, executable=executable, output="screen",
                                arguments=[arg("file")],
                                parameters=[{"publish_rate": number("publish_rate"), "frame_id": arg("frame_id"),
                                             "field_of_view": number("field_of_view")}],
                                remappings=remappings))

    if rviz:
        config = rviz_config((SHARE / "config" / "hand_tracking.rviz").read_text(), image_topic)
        config_file = write_private_file(config, ".rviz")
        actions.append(Node(package=RVIZ_NODE[0], executable=RVIZ_NODE[1], output="screen",
                            arguments=["-d", str(config_file), "--fixed-frame", arg("frame_id")]))
        actions.append(RegisterEventHandler(OnShutdown(
            on_shutdown=lambda event, context: config_file.unlink(missing_ok=True))))
    return actions


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in ARGUMENTS]
        + [OpaqueFunction(function=launch_setup)])
