"""Parameters of ``hand_tracking_node``: names, defaults, ranges, descriptions and validation.

Pure Python so that it is tested without ROS. The tracker's parameters are derived from ``TrackerOptions``
(``options``): one parameter per option, of the same name, default, range and description; the node's own
parameters (topics, transport, depth images, outputs, tf) are defined here; ``check_together`` checks
those that depend on each other. The node declares one ROS parameter per
``ParameterSpec`` (with the description and range in its descriptor), refuses a change when ``checked_changes``
raises (the message is the reason), and hands the tracker's changes to ``HandTracker.update``. ``config/hand_tracking.yaml``
lists every parameter with its default; a test keeps the two in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from enum import Enum
from typing import Mapping

from .options import OPTION_SPECS, OPTIONS, OptionSpec, TrackerOptions, Value
from .topics import IMAGE_TRANSPORTS, camera_topics, is_valid_topic_name


class Effect(Enum):
    """What the node does to apply a new value."""

    TRACKER = "HandTracker.update between two frames (a model option loads the models again; tracks go on)"
    RESUBSCRIBE = "subscribe again"
    OUTPUT = "used for the next published frame"


@dataclass(frozen=True)
class ParameterSpec(OptionSpec):
    """An option as a ROS parameter. The default's Python type is the parameter's type; a tuple means a
    string array."""

    effect: Effect = Effect.OUTPUT

    @classmethod
    def from_option(cls, option: OptionSpec) -> ParameterSpec:
        return cls(**{item.name: getattr(option, item.name) for item in fields(OptionSpec)}, effect=Effect.TRACKER)


QOS_RELIABILITIES = ("best_effort", "reliable")

_INPUTS = (
    ParameterSpec(
        "image_topics", ("image",),
        "Image topics to track; each has its own tracks (one model batch serves all). Each camera's results go "
        "to its topic's namespace: /cam_left/image_raw -> /cam_left/hands, /cam_left/hands/markers, "
        "/cam_left/hands/image; camera intrinsics are read from /cam_left/camera_info.",
        effect=Effect.RESUBSCRIBE),
    ParameterSpec(
        "image_transport", "raw",
        "raw: sensor_msgs/Image on each image topic; compressed: sensor_msgs/CompressedImage on "
        "<image topic>/compressed.",
        choices=IMAGE_TRANSPORTS, effect=Effect.RESUBSCRIBE),
    ParameterSpec(
        "image_qos_reliability", "best_effort",
        "Reliability of the image and camera_info subscriptions. best_effort (sensor-data QoS) receives from "
        "both best-effort and reliable publishers; reliable only from reliable ones. History depth is 1: "
        "only the newest image matters.",
        choices=QOS_RELIABILITIES, effect=Effect.RESUBSCRIBE),
    ParameterSpec(
        "depth_topics", ("",),
        "Aligned depth image topic of each entry of image_topics, in the same order (\"\" for a camera without "
        "one): sensor_msgs/Image, 16UC1 millimetres or 32FC1 metres, registered to the colour image (RealSense: "
        "/camera/aligned_depth_to_color/image_raw). With the camera's camera_info, each hand's 3D landmarks then "
        "come from the depth image (HandLandmarks.depth_source). A single \"\" (the default): no depth for any "
        "camera.",
        effect=Effect.RESUBSCRIBE),
    ParameterSpec(
        "depth_slop", 0.05,
        "Seconds by which a depth image's stamp may differ from its colour image's (approximate-time matching); "
        "the colour image waits up to this long for a depth image still to come, then goes on without.",
        minimum=0.0, maximum=1.0),
)
_OUTPUTS = (
    ParameterSpec(
        "publish_markers", True,
        "Publish visualization_msgs/MarkerArray on hands/markers."),
    ParameterSpec(
        "publish_annotated_image", False,
        "Publish the input image with the hands drawn (rgb8) on hands/image."),
    ParameterSpec(
        "marker_assumed_depth", 0.5,
        "Distance from the camera in metres at which markers are drawn when a hand has no metric pose.",
        minimum=0.05, maximum=10.0),
    ParameterSpec(
        "publish_tf", False,
        "Broadcast each hand with a metric pose as the tf frame <tf_prefix>hand_<id>, child of the image's "
        "frame, origin at the wrist (x towards the middle finger's knuckle, z out of the palm)."),
    ParameterSpec(
        "tf_prefix", "",
        "Prefix of the hands' tf frame names (for example \"left_cam_\" gives left_cam_hand_3)."),
    ParameterSpec(
        "target_frame", "",
        "A tf frame (for example base_link): also publish hands/poses_target, the wrist poses transformed "
        "there through tf2 at each image's stamp. Empty: off.",
        effect=Effect.RESUBSCRIBE),
)

PARAMETERS: tuple[ParameterSpec, ...] = (
    _INPUTS + tuple(ParameterSpec.from_option(option) for option in OPTION_SPECS) + _OUTPUTS)

SPECS: dict[str, ParameterSpec] = {spec.name: spec for spec in PARAMETERS}
DEFAULTS: dict[str, Value] = {spec.name: spec.default for spec in PARAMETERS}


def check(name: str, value: object) -> Value:
    """``value`` for parameter ``name`` converted to the parameter's type (an integer for a double becomes a
    float, a string array a tuple), or ValueError (OptionError for type and range) saying why it is refused."""
    spec = SPECS.get(name)
    if spec is None:
        raise ValueError(f"unknown parameter {name!r}")
    value = spec.check(value)
    reason = {"image_topics": _image_topics_reason, "depth_topics": _depth_topics_reason,
              "tf_prefix": _frame_reason, "target_frame": _frame_reason}.get(name, lambda _: None)(value)
    if reason:
        raise ValueError(f"{name}: {reason}" if name in ("tf_prefix", "target_frame") else reason)
    return value


def check_together(values: Mapping[str, Value]) -> None:
    """ValueError for parameter values that do not fit together (all of the node's values, after a change
    of any of them): depth_topics needs one entry per image topic, unless it names none."""
    image_topics, depth_topics = values["image_topics"], values["depth_topics"]
    if any(depth_topics) and len(depth_topics) != len(image_topics):
        raise ValueError(f"depth_topics has {len(depth_topics)} entries for {len(image_topics)} image_topics: give "
                         "one per image topic, in the same order (\"\" for a camera without depth)")


def validate(name: str, value: object) -> str | None:
    """The reason why ``value`` is refused for parameter ``name``, or None when it is accepted."""
    try:
        check(name, value)
    except ValueError as error:
        return str(error)
    return None


def _image_topics_reason(topics: tuple[str, ...]) -> str | None:
    if not topics:
        return "image_topics must name at least one image topic"
    for topic in topics:
        if not is_valid_topic_name(topic):
            return f"image_topics: {topic!r} is not a valid topic name"
    outputs: dict[str, str] = {}
    for topic in topics:
        hands = camera_topics(topic).hands
        if hands in outputs:
            return (f"image_topics: {outputs[hands]!r} and {topic!r} are in the same namespace, so both "
                    f"would publish on {hands!r}; give each camera its own namespace")
        outputs[hands] = topic
    return None


def _depth_topics_reason(topics: tuple[str, ...]) -> str | None:
    for topic in topics:
        if topic and not is_valid_topic_name(topic):
            return f"depth_topics: {topic!r} is not a valid topic name (\"\" for a camera without depth)"
    return None


# A tf frame id: no leading "/" (tf2 refuses those), no spaces.
_FRAME_ID = re.compile(r"[A-Za-z0-9_.\-][A-Za-z0-9_./\-]*")


def _frame_reason(frame: str) -> str | None:
    if frame and not _FRAME_ID.fullmatch(frame):
        return f"{frame!r} is not a tf frame name (letters, digits, _ . - /, not starting with /)"
    return None


def checked_changes(changes: Mapping[str, object]) -> dict[str, Value]:
    """A set of changes made together, each converted by ``check``; ValueError for the first refused one."""
    return {name: check(name, value) for name, value in changes.items()}


def tracker_changes(values: Mapping[str, Value]) -> dict[str, Value]:
    """The tracker options among parameter values (the parameter names are the options'), for
    ``HandTracker.update``."""
    return {name: value for name, value in values.items() if name in OPTIONS}


def tracker_options(values: Mapping[str, Value]) -> TrackerOptions:
    """TrackerOptions from parameter values (the tracker's parameters not among them keep their defaults)."""
    return TrackerOptions(**tracker_changes(values))
