"""Topic names of one camera: where the node reads images and where it writes its results.

Results go to the namespace of the input image topic, the way image_pipeline pairs ``image_raw`` with
``camera_info``: ``/cam_left/image_raw`` is read together with ``/cam_left/camera_info`` and its hands are
published on ``/cam_left/hands``. Relative names stay relative, so node namespaces and remappings apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IMAGE_TRANSPORTS = ("raw", "compressed")

# A ROS 2 topic name: optional "/" or "~/", then "/"-separated tokens that do not start with a digit.
_TOPIC_NAME = re.compile(r"(/|~/)?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True)
class CameraTopics:
    """All topics of one input camera."""

    image: str            # the subscribed image topic (``.../compressed`` for the compressed transport)
    camera_info: str
    hands: str            # hand_tracking_ros/msg/HandLandmarksArray
    markers: str          # visualization_msgs/msg/MarkerArray
    annotated_image: str  # sensor_msgs/msg/Image
    poses: str            # geometry_msgs/msg/PoseArray: each hand's wrist pose in the image's frame
    poses_target: str     # geometry_msgs/msg/PoseArray: the same in the node's target_frame (through tf2)


def is_valid_topic_name(name: str) -> bool:
    return _TOPIC_NAME.fullmatch(name) is not None


def camera_topics(image_topic: str, image_transport: str = "raw") -> CameraTopics:
    """Topics for the camera whose images are published on ``image_topic`` (a raw image topic name)."""
    if not is_valid_topic_name(image_topic):
        raise ValueError(f"invalid image topic name {image_topic!r}")
    if image_transport not in IMAGE_TRANSPORTS:
        raise ValueError(f"image_transport must be one of {', '.join(IMAGE_TRANSPORTS)}, not {image_transport!r}")
    namespace = image_topic.rpartition("/")[0]
    prefix = namespace + "/" if namespace or image_topic.startswith("/") else ""
    image = image_topic + "/compressed" if image_transport == "compressed" else image_topic
    return CameraTopics(
        image=image,
        camera_info=prefix + "camera_info",
        hands=prefix + "hands",
        markers=prefix + "hands/markers",
        annotated_image=prefix + "hands/image",
        poses=prefix + "hands/poses",
        poses_target=prefix + "hands/poses_target",
    )
