"""What ``launch/hand_tracking.launch.py`` decides, here so that it is tested without ROS 2.

Optional packages: ``camera:=v4l2``, ``camera:=file`` and ``rviz:=true`` start nodes of packages that
``hand_tracking_ros`` does not depend on. The launch file checks them all before it returns any action, so a
missing one stops the launch with the apt package to install and starts nothing (a node started before the
failure would be left running without its parent).

RViz configuration: the one in ``config/`` shows ``/camera/...``; the launch writes a copy that shows the
launched camera's topics into a new file of its own (``tempfile.mkstemp``: a random name, created
exclusively, readable by the user only), never to a predictable path that a planted symlink could redirect,
and deletes it when the launch ends.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .topics import camera_topics

# camera:= value: the (ROS 2 package, executable) it starts.
CAMERA_NODES = {"v4l2": ("v4l2_camera", "v4l2_camera_node"), "file": ("image_publisher", "image_publisher_node")}
RVIZ_NODE = ("rviz2", "rviz2")
# The topics config/hand_tracking.rviz displays.
RVIZ_TEMPLATE_TOPICS = camera_topics("/camera/image_raw")


def optional_nodes(camera: str, rviz: bool) -> dict[tuple[str, str], str]:
    """``{(ROS 2 package, executable): the launch argument that starts it}`` of the optional nodes."""
    needed = {CAMERA_NODES[camera]: f"camera:={camera}"} if camera in CAMERA_NODES else {}
    if rviz:
        needed[RVIZ_NODE] = "rviz:=true"
    return needed


def apt_package(ros_package: str, distro: str | None = None) -> str:
    """Debian package of a ROS 2 package: ``ros-jazzy-image-publisher`` for image_publisher on Jazzy."""
    return f"ros-{distro or '$ROS_DISTRO'}-{ros_package.replace('_', '-')}"


def missing_packages_message(missing: dict[str, str], distro: str | None = None) -> str:
    """One line saying which launch arguments need which missing packages (``{package: argument}``) and how
    to install them."""
    needs = ", ".join(f"{argument} needs the ROS 2 package {package}" for package, argument in missing.items())
    install = " ".join(apt_package(package, distro) for package in missing)
    return f"{needs}, not installed: sudo apt install {install}, then launch again"


def rviz_config(template: str, image_topic: str | None) -> str:
    """``config/hand_tracking.rviz`` showing the topics of the camera on ``image_topic`` (the template's own
    topics when None: the cameras come from the user's parameter file)."""
    if image_topic is None:
        return template
    topics = camera_topics(image_topic)
    for old, new in ((RVIZ_TEMPLATE_TOPICS.annotated_image, topics.annotated_image),
                     (RVIZ_TEMPLATE_TOPICS.markers, topics.markers), (RVIZ_TEMPLATE_TOPICS.poses, topics.poses),
                     (RVIZ_TEMPLATE_TOPICS.image, topics.image)):
        template = template.replace(f"Value: {old}\n", f"Value: {new}\n")
    return template


def write_private_file(text: str, suffix: str) -> Path:
    """Write ``text`` to a new file with a random name in the temporary folder, readable by the user only."""
    descriptor, name = tempfile.mkstemp(prefix="hand_tracking_", suffix=suffix)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    return Path(name)
