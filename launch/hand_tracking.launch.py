"""Hand tracking on one camera, with an optional camera driver and RViz.

    ros2 launch hand_tracking_ros hand_tracking.launch.py image_topic:=/camera/image_raw
    ros2 launch hand_tracking_ros hand_tracking.launch.py camera:=v4l2 rviz:=true
    ros2 launch hand_tracking_ros hand_tracking.launch.py camera:=file file:=/path/to/video.mp4 rviz:=true

Results go to the image topic's namespace (/camera/hands, /camera/hands/markers, /camera/hands/image).
Several cameras: list them in image_topics of your own parameter file and pass params_file:=that.yaml.
"""

import tempfile
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from hand_tracking_ros.topics import camera_topics

SHARE = Path(get_package_share_directory("hand_tracking_ros"))
DEFAULT_PARAMS = str(SHARE / "config" / "hand_tracking.yaml")
DEFAULT_IMAGE_TOPIC = "/camera/image_raw"
# The topics config/hand_tracking.rviz displays; replaced by the launched camera's topics.
RVIZ_TOPICS = camera_topics(DEFAULT_IMAGE_TOPIC)

ARGUMENTS = [
    ("image_topic", "",
     f"Image topic to track (sensor_msgs/Image). Default: {DEFAULT_IMAGE_TOPIC}, or the image_topics of "
     "params_file when you pass your own file (several cameras) and start no camera."),
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


def launch_setup(context):
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    camera, rviz = arg("camera"), arg("rviz").lower() == "true"
    if camera not in ("none", "v4l2", "file"):
        raise ValueError(f"camera:={camera} is not one of none, v4l2, file")
    own_params_file = arg("params_file") != DEFAULT_PARAMS
    # None: the topics come from the user's parameter file.
    image_topic = arg("image_topic") or (None if own_params_file and camera == "none" else DEFAULT_IMAGE_TOPIC)
    if camera == "file" and not arg("file"):
        raise ValueError("camera:=file needs file:=/path/to/image_or_video")
    overrides = {}
    if image_topic:
        overrides["image_topics"] = [image_topic]
    if rviz:
        overrides["publish_annotated_image"] = True
    actions = [Node(
        package="hand_tracking_ros", executable="hand_tracking_node", name="hand_tracking_node", output="screen",
        parameters=[arg("params_file"), overrides], ros_arguments=["--log-level", arg("log_level")])]

    if camera != "none":
        topics = camera_topics(image_topic)
        remappings = [("image_raw", image_topic), ("camera_info", topics.camera_info)]
        if camera == "v4l2":
            actions.append(Node(package="v4l2_camera", executable="v4l2_camera_node", output="screen",
                                parameters=[{"video_device": arg("video_device"), "camera_frame_id": arg("frame_id")}],
                                remappings=remappings))
        else:
            actions.append(Node(package="image_publisher", executable="image_publisher_node", output="screen",
                                arguments=[arg("file")],
                                parameters=[{"publish_rate": float(arg("publish_rate")), "frame_id": arg("frame_id"),
                                             "field_of_view": float(arg("field_of_view"))}],
                                remappings=remappings))

    if rviz:
        config = (SHARE / "config" / "hand_tracking.rviz").read_text()
        if image_topic:  # show this camera's topics instead of the ones in the file
            topics = camera_topics(image_topic)
            for old, new in ((RVIZ_TOPICS.annotated_image, topics.annotated_image),
                             (RVIZ_TOPICS.markers, topics.markers), (RVIZ_TOPICS.image, topics.image)):
                config = config.replace(f"Value: {old}\n", f"Value: {new}\n")
        # One file per image topic, rewritten at each launch, so that none pile up.
        config_file = Path(tempfile.gettempdir()) / f"hand_tracking{(image_topic or '').replace('/', '_')}.rviz"
        config_file.write_text(config)
        actions.append(Node(package="rviz2", executable="rviz2", output="screen",
                            arguments=["-d", str(config_file), "--fixed-frame", arg("frame_id")]))
    return actions


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in ARGUMENTS]
        + [OpaqueFunction(function=launch_setup)])
