"""What the launch file decides: optional packages checked up front, a private RViz configuration file."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

from hand_tracking_ros.launch_support import (
    missing_packages_message,
    optional_nodes,
    rviz_config,
    write_private_file,
)

RVIZ_TEMPLATE = Path(__file__).resolve().parents[1] / "config" / "hand_tracking.rviz"


def test_optional_nodes_are_those_the_arguments_start():
    assert optional_nodes("none", False) == {}
    assert optional_nodes("v4l2", False) == {("v4l2_camera", "v4l2_camera_node"): "camera:=v4l2"}
    assert optional_nodes("file", True) == {("image_publisher", "image_publisher_node"): "camera:=file",
                                            ("rviz2", "rviz2"): "rviz:=true"}


def test_missing_packages_message_names_the_apt_packages():
    message = missing_packages_message({"image_publisher": "camera:=file", "rviz2": "rviz:=true"}, "jazzy")
    assert "camera:=file needs the ROS 2 package image_publisher" in message and "rviz:=true" in message
    assert "sudo apt install ros-jazzy-image-publisher ros-jazzy-rviz2" in message
    assert "ros-$ROS_DISTRO-v4l2-camera" in missing_packages_message({"v4l2_camera": "camera:=v4l2"})
    assert "\n" not in message


def test_rviz_config_shows_the_launched_cameras_topics():
    template = RVIZ_TEMPLATE.read_text()
    config = rviz_config(template, "/front/image_raw")
    for topic in ("/front/image_raw", "/front/hands/markers", "/front/hands/image", "/front/hands/poses"):
        assert f"Value: {topic}\n" in config
    assert "Value: /camera/" not in config
    assert rviz_config(template, None) == template  # cameras from the user's parameter file: shown as is


def test_rviz_config_file_is_private_and_ignores_a_planted_symlink(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    # The name the launch file used to write, one per image topic, planted by another user.
    (tmp_path / "hand_tracking_front_image_raw.rviz").symlink_to(victim)
    first = write_private_file("config", ".rviz")
    second = write_private_file("config", ".rviz")
    assert victim.read_text() == "precious"
    assert first != second and first.parent == tmp_path and first.suffix == ".rviz"
    assert not first.is_symlink() and first.read_text() == "config"
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
