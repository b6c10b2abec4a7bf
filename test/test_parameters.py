"""Node parameters (definitions, validation, config/hand_tracking.yaml) and topic naming, without ROS."""

from __future__ import annotations

import re

import pytest
from conftest import REPO_ROOT
from ruamel.yaml import YAML

from hand_tracking_ros.options import OPTION_SPECS, OptionError, TrackerOptions
from hand_tracking_ros.parameters import (
    DEFAULTS,
    PARAMETERS,
    SPECS,
    Effect,
    check,
    check_together,
    checked_changes,
    tracker_changes,
    tracker_options,
    validate,
)
from hand_tracking_ros.topics import CameraTopics, camera_topics

CONFIG = REPO_ROOT / "config" / "hand_tracking.yaml"


def test_the_issue_names_are_all_declared():
    assert {"max_num_hands", "min_detection_confidence", "min_presence_confidence", "min_tracking_iou",
            "model_complexity", "device", "mirrored", "static_image_mode", "image_qos_reliability",
            "image_topics", "image_transport", "publish_markers", "publish_annotated_image", "detection_interval",
            "smoothing", "gesture_hold_frames", "marker_assumed_depth", "depth_topics", "depth_slop", "publish_tf",
            "tf_prefix", "target_frame"} <= set(SPECS)
    assert (DEFAULTS["publish_tf"], DEFAULTS["tf_prefix"], DEFAULTS["target_frame"]) == (False, "", "")


@pytest.mark.parametrize("option", OPTION_SPECS, ids=lambda option: option.name)
def test_tracker_parameters_are_derived_from_the_tracker_options(option):
    spec = SPECS[option.name]
    assert (spec.default, spec.minimum, spec.maximum, spec.choices, spec.description) == (
        option.default, option.minimum, option.maximum, option.choices, option.description)
    assert spec.effect is Effect.TRACKER


@pytest.mark.parametrize("spec", PARAMETERS, ids=lambda spec: spec.name)
def test_each_default_is_valid_and_described(spec):
    assert validate(spec.name, spec.default) is None
    assert len(spec.description) > 20
    if spec.minimum is not None:
        assert spec.minimum <= spec.default <= spec.maximum
        assert str(spec.minimum) in spec.range_text and str(spec.maximum) in spec.range_text


def test_image_qos_defaults_to_sensor_data_best_effort():
    assert DEFAULTS["image_qos_reliability"] == "best_effort"
    assert DEFAULTS["publish_annotated_image"] is False


def test_yaml_lists_every_parameter_with_its_default():
    document = YAML(typ="safe").load(CONFIG.read_text())
    values = document["/**"]["ros__parameters"]
    assert list(values) == [spec.name for spec in PARAMETERS]
    for spec in PARAMETERS:
        expected = list(spec.default) if isinstance(spec.default, tuple) else spec.default
        assert values[spec.name] == expected and type(values[spec.name]) is type(expected), spec.name


def test_yaml_comments_every_parameter():
    lines = CONFIG.read_text().splitlines()
    for spec in PARAMETERS:
        (index,) = [i for i, line in enumerate(lines) if re.match(rf"\s+{spec.name}:", line)]
        assert lines[index - 1].strip().startswith("#"), f"{spec.name} has no comment line above it"


@pytest.mark.parametrize("name, value, reason", [
    ("max_num_hands", 0, "max_num_hands must be from 1 to 10"),
    ("max_num_hands", 2.0, "max_num_hands must be an integer"),
    ("max_num_hands", True, "max_num_hands must be an integer"),
    ("max_num_hands", 1.5, "max_num_hands must be an integer, got 1.5"),
    ("max_num_hands", "2", "max_num_hands must be an integer, got '2'"),
    ("threads", 1000, "threads must be from 0 to 64, got 1000"),
    ("detection_interval", 0, "detection_interval must be from 1 to 30, got 0"),
    ("min_detection_confidence", True, "min_detection_confidence must be a number"),
    ("min_detection_confidence", 1.5, "min_detection_confidence must be from 0.0 to 1.0"),
    ("min_presence_confidence", float("nan"), "min_presence_confidence must be from 0.0 to 1.0"),
    ("min_tracking_iou", "0.5", "min_tracking_iou must be a number"),
    ("model_complexity", 2, "model_complexity must be from 0 to 1"),
    ("device", "gpu", "device must be one of: auto, tensorrt, cuda, cpu"),
    ("mirrored", 1, "mirrored must be a bool"),
    ("image_transport", "theora", "image_transport must be one of: raw, compressed"),
    ("image_qos_reliability", "sometimes", "image_qos_reliability must be one of: best_effort, reliable"),
    ("image_topics", [], "image_topics must name at least one image topic"),
    ("image_topics", ["/cam/image raw"], "not a valid topic name"),
    ("image_topics", ["/cam/1image"], "not a valid topic name"),
    ("image_topics", ["/cam/image_raw", "/cam/image_rect"], "both would publish on '/cam/hands'"),
    ("marker_assumed_depth", 0.0, "marker_assumed_depth must be from 0.05 to 10.0"),
    ("depth_topics", ["/cam/depth image"], "depth_topics: '/cam/depth image' is not a valid topic name"),
    ("depth_topics", "/cam/depth", "depth_topics must be a list of strings"),
    ("depth_slop", -0.01, "depth_slop must be from 0.0 to 1.0"),
    ("publish_tf", "true", "publish_tf must be a bool"),
    ("tf_prefix", "/left_", "tf_prefix: '/left_' is not a tf frame name"),
    ("target_frame", "base link", "target_frame: 'base link' is not a tf frame name"),
    ("no_such_parameter", 1, "unknown parameter"),
])
def test_bad_values_are_refused_with_a_reason(name, value, reason):
    assert reason in validate(name, value)


def test_good_values_are_accepted():
    assert checked_changes({"max_num_hands": 4, "min_detection_confidence": 1, "device": "cpu",
                            "image_topics": ["/cam_left/image_raw", "/cam_right/image_raw"], "mirrored": True}) == {
        "max_num_hands": 4, "min_detection_confidence": 1.0, "device": "cpu",
        "image_topics": ("/cam_left/image_raw", "/cam_right/image_raw"), "mirrored": True}


def test_depth_topics_pair_with_image_topics():
    two_cameras = {**DEFAULTS, "image_topics": ("/left/image_raw", "/right/image_raw")}
    check_together(two_cameras)  # the default [""]: no depth for either camera
    check_together({**two_cameras, "depth_topics": ("/left/depth/image_raw", "")})
    with pytest.raises(ValueError, match="depth_topics has 1 entries for 2 image_topics"):
        check_together({**two_cameras, "depth_topics": ("/left/depth/image_raw",)})
    assert check("tf_prefix", "left_cam_") == "left_cam_" and check("target_frame", "base_link") == "base_link"


def test_changes_are_refused_together_when_one_is_bad():
    with pytest.raises(ValueError, match="max_num_hands must be from 1 to 10, got 99"):
        checked_changes({"mirrored": True, "max_num_hands": 99})


def test_an_integer_for_a_double_is_taken_as_a_float():
    # `-p min_detection_confidence:=1` and `ros2 param set ... marker_assumed_depth 2` give integers.
    assert check("min_detection_confidence", 1) == 1.0 and type(check("min_detection_confidence", 1)) is float
    assert type(check("marker_assumed_depth", 2)) is float
    assert checked_changes({"image_topics": ["/cam/image_raw"], "smoothing_beta": 5}) == {
        "image_topics": ("/cam/image_raw",), "smoothing_beta": 5.0}


def test_a_refused_tracker_value_is_an_option_error_naming_the_parameter():
    with pytest.raises(OptionError) as error:
        checked_changes({"mirrored": True, "detection_interval": float("nan")})
    assert error.value.option == "detection_interval" and str(error.value).startswith("detection_interval must be")


def test_tracker_options_come_from_the_parameter_values():
    assert tracker_options(DEFAULTS) == TrackerOptions()  # same defaults as the core
    assert tracker_changes({"max_num_hands": 1, "publish_markers": False, "image_transport": "raw"}) == {
        "max_num_hands": 1}
    assert tracker_options({**DEFAULTS, "models_dir": "/m", "threads": 2}) == TrackerOptions(models_dir="/m", threads=2)


def outputs_in(prefix: str) -> tuple[str, ...]:
    """camera_info and the output topics of a camera whose image topic is in namespace ``prefix``."""
    return tuple(prefix + name for name in ("camera_info", "hands", "hands/markers", "hands/image", "hands/poses",
                                            "hands/poses_target"))


@pytest.mark.parametrize("image_topic, transport, expected", [
    ("/cam_left/image_raw", "raw", CameraTopics("/cam_left/image_raw", *outputs_in("/cam_left/"))),
    ("/cam_left/image_raw", "compressed", CameraTopics("/cam_left/image_raw/compressed", *outputs_in("/cam_left/"))),
    ("image", "raw", CameraTopics("image", *outputs_in(""))),
    ("/image_raw", "raw", CameraTopics("/image_raw", *outputs_in("/"))),
    ("robot/head/image", "raw", CameraTopics("robot/head/image", *outputs_in("robot/head/"))),
])
def test_outputs_go_to_the_input_namespace(image_topic, transport, expected):
    assert camera_topics(image_topic, transport) == expected
    assert expected.poses == expected.hands + "/poses"  # written out once, as the issue names them


def test_topic_naming_refuses_bad_input():
    with pytest.raises(ValueError, match="invalid image topic"):
        camera_topics("/cam//image")
    with pytest.raises(ValueError, match="image_transport"):
        camera_topics("/cam/image", "h264")
