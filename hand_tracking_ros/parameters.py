"""Parameters of ``hand_tracking_node``: names, defaults, ranges, descriptions and validation.

Pure Python so that it is tested without ROS. The node declares one ROS parameter per ``ParameterSpec``
(with the description and range in its descriptor) and refuses a change when ``validate_changes`` gives a
reason. ``config/hand_tracking.yaml`` lists every parameter with its default; a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Mapping

from .backend import DEVICES
from .gestures import HOLD_FRAMES
from .topics import IMAGE_TRANSPORTS, camera_topics, is_valid_topic_name

Value = bool | int | float | str | tuple


class Effect(Enum):
    """What the node does to apply a new value."""

    TRACKER = "set on the running trackers between two frames"
    REBUILD_TRACKER = "build new trackers (models are loaded again)"
    RESUBSCRIBE = "subscribe again"
    OUTPUT = "used for the next published frame"


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: Value           # its Python type is the parameter's type; a tuple means a string array
    description: str
    effect: Effect
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def range_text(self) -> str:
        """The allowed values in words, for descriptors, docs and error messages."""
        if self.choices:
            return "one of: " + ", ".join(self.choices)
        if self.minimum is not None:
            return f"{self.minimum} to {self.maximum}"
        return ""


QOS_RELIABILITIES = ("best_effort", "reliable")

PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "image_topics", ("image",),
        "Image topics to track; each has its own tracks (one model batch serves all). Each camera's results go "
        "to its topic's namespace: /cam_left/image_raw -> /cam_left/hands, /cam_left/hands/markers, "
        "/cam_left/hands/image; camera intrinsics are read from /cam_left/camera_info.",
        Effect.RESUBSCRIBE),
    ParameterSpec(
        "image_transport", "raw",
        "raw: sensor_msgs/Image on each image topic; compressed: sensor_msgs/CompressedImage on "
        "<image topic>/compressed.",
        Effect.RESUBSCRIBE, choices=IMAGE_TRANSPORTS),
    ParameterSpec(
        "image_qos_reliability", "best_effort",
        "Reliability of the image and camera_info subscriptions. best_effort (sensor-data QoS) receives from "
        "both best-effort and reliable publishers; reliable only from reliable ones. History depth is 1: "
        "only the newest image matters.",
        Effect.RESUBSCRIBE, choices=QOS_RELIABILITIES),
    ParameterSpec(
        "max_num_hands", 2,
        "Maximum number of hands tracked per camera.",
        Effect.TRACKER, minimum=1, maximum=10),
    ParameterSpec(
        "min_detection_confidence", 0.5,
        "Minimum palm-detector score for a new hand.",
        Effect.TRACKER, minimum=0.0, maximum=1.0),
    ParameterSpec(
        "min_presence_confidence", 0.5,
        "Minimum hand-presence score of the landmark model; a tracked hand below it is dropped and the "
        "detector looks for hands again.",
        Effect.TRACKER, minimum=0.0, maximum=1.0),
    ParameterSpec(
        "min_tracking_iou", 0.5,
        "A new palm detection overlapping a tracked hand's crop by more than this IoU is the same hand.",
        Effect.TRACKER, minimum=0.0, maximum=1.0),
    ParameterSpec(
        "model_complexity", 1,
        "0: lite models (faster), 1: full models (more accurate). A change loads the other models and "
        "restarts the tracker.",
        Effect.REBUILD_TRACKER, minimum=0, maximum=1),
    ParameterSpec(
        "device", "auto",
        "onnxruntime execution provider: auto picks tensorrt, then cuda, then cpu, the first that works here; "
        "asking for one that does not work here is refused. A change restarts the tracker.",
        Effect.REBUILD_TRACKER, choices=DEVICES),
    ParameterSpec(
        "mirrored", False,
        "Set for selfie-style (horizontally flipped) images: swaps the left/right handedness labels.",
        Effect.TRACKER),
    ParameterSpec(
        "static_image_mode", False,
        "Run the palm detector on every image, without tracking between images (unrelated images).",
        Effect.TRACKER),
    ParameterSpec(
        "detection_interval", 3,
        "While at least one hand is tracked and fewer than max_num_hands, look for more hands only every this "
        "many images (the palm detector costs more than a landmark inference). 1: every image, as MediaPipe.",
        Effect.TRACKER, minimum=1, maximum=30),
    ParameterSpec(
        "smoothing", True,
        "One Euro filtering of each track's image and world landmarks (less jitter, little lag).",
        Effect.TRACKER),
    ParameterSpec(
        "gesture_hold_frames", HOLD_FRAMES,
        "A gesture is reported once it has held for this many consecutive images (no flicker). A change "
        "restarts the tracker.",
        Effect.REBUILD_TRACKER, minimum=1, maximum=30),
    ParameterSpec(
        "publish_markers", True,
        "Publish visualization_msgs/MarkerArray on hands/markers.",
        Effect.OUTPUT),
    ParameterSpec(
        "publish_annotated_image", False,
        "Publish the input image with the hands drawn (rgb8) on hands/image.",
        Effect.OUTPUT),
    ParameterSpec(
        "marker_assumed_depth", 0.5,
        "Distance from the camera in metres at which markers are drawn when a hand has no metric pose.",
        Effect.OUTPUT, minimum=0.05, maximum=10.0),
)

SPECS: dict[str, ParameterSpec] = {spec.name: spec for spec in PARAMETERS}
DEFAULTS: dict[str, Value] = {spec.name: spec.default for spec in PARAMETERS}


def _type_reason(spec: ParameterSpec, value: object) -> str | None:
    # bool is an int in Python: check it first so that True is not accepted as an integer and 1 not as a bool.
    expected = type(spec.default)
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif expected is str:
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)
    if ok:
        return None
    kind = {bool: "a bool", int: "an integer", float: "a number", str: "a string"}.get(expected, "a list of strings")
    return f"{spec.name} must be {kind}, got {value!r}"


def validate(name: str, value: object) -> str | None:
    """The reason why ``value`` is refused for parameter ``name``, or None when it is accepted."""
    spec = SPECS.get(name)
    if spec is None:
        return f"unknown parameter {name!r}"
    reason = _type_reason(spec, value)
    if reason:
        return reason
    if spec.choices and value not in spec.choices:
        return f"{name} must be {spec.range_text}, got {value!r}"
    if spec.minimum is not None and not spec.minimum <= value <= spec.maximum:  # NaN fails this too
        return f"{name} must be from {spec.range_text}, got {value!r}"
    if name == "image_topics":
        return _image_topics_reason(value)
    return None


def _image_topics_reason(topics: list[str] | tuple[str, ...]) -> str | None:
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


def validate_changes(changes: Mapping[str, object]) -> str | None:
    """The first reason to refuse a set of changes made together, or None when all are accepted."""
    for name, value in changes.items():
        reason = validate(name, value)
        if reason:
            return reason
    return None


def tracker_options(values: Mapping[str, Value]) -> dict[str, Value]:
    """HandTracker keyword arguments from parameter values (the parameter names are the tracker's)."""
    return {name: values[name] for name, spec in SPECS.items()
            if spec.effect in (Effect.TRACKER, Effect.REBUILD_TRACKER)}
