"""HandTracker options: each one's default, type, bounds and description, validated in one place.

``TrackerOptions`` is a frozen dataclass; creating one (or ``options.replace(**changes)``) checks every value
and raises ``OptionError`` for the first bad one. Everything else is derived from it: HandTracker's
constructor and ``HandTracker.update``, the node's ROS parameters (``parameters``), the CLI flags
(``cli.add_tracker_arguments``) and ``config/hand_tracking.yaml`` (a test keeps it in step).

Type rules, the same for Python, ROS and the CLI: an integer is accepted for a float option and converted
(``-p min_detection_confidence:=1``); a bool is never a number, and a float or a string is never an integer
(``max_num_hands=1.5`` or ``"2"`` is refused at once, naming the option); numpy scalars count as the Python
number they hold. Ranges are inclusive; NaN is outside every range.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from dataclasses import replace as _replace

import numpy as np

from .backend import DEVICES
from .gestures import HOLD_FRAMES
from .smoothing import IMAGE_SMOOTHING, WORLD_SMOOTHING, OneEuroParams

Value = bool | int | float | str | tuple

KIND_NAMES = {bool: "a bool", int: "an integer", float: "a number", str: "a string", tuple: "a list of strings"}


class OptionError(ValueError):
    """A value refused for an option: ``str(error)`` is "<option> <reason>", e.g. "detection_interval must be
    from 1 to 30, got 0". ``option`` is the option's name, ``reason`` the rest; ``message_for(name)`` is the
    message under another name (the CLI names its flag: ``OPTIONS[error.option].cli_flag``)."""

    def __init__(self, option: str, requirement: str, value: object) -> None:
        self.option, self.requirement, self.value = option, requirement, value
        super().__init__(self.message_for(option))

    @property
    def reason(self) -> str:
        return f"{self.requirement}, got {self.value!r}"

    def message_for(self, name: str) -> str:
        return f"{name} {self.reason}"

    def renamed(self, name: str) -> OptionError:
        """The same error, its message naming ``name`` (a CLI flag) instead of the option."""
        error = OptionError(self.option, self.requirement, self.value)
        error.args = (self.message_for(name),)
        return error


@dataclass(frozen=True)
class OptionSpec:
    """One option: its default (whose Python type is the option's type; a tuple is a list of strings),
    description, inclusive bounds or choices. ``changes_models``: a new value loads the models again.
    ``is_path``: a folder, given as a string or path ("" or None: none given). ``flag``: the CLI flag,
    when it is not ``--`` and the name with dashes."""

    name: str
    default: Value
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    changes_models: bool = False
    is_path: bool = False
    flag: str = ""

    @property
    def kind(self) -> type:
        return type(self.default)

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def range_text(self) -> str:
        """The allowed values in words, for descriptors, docs and error messages."""
        if self.choices:
            return "one of: " + ", ".join(self.choices)
        if self.minimum is not None:
            return f"{self.minimum} to {self.maximum}"
        return ""

    def check(self, value: object) -> Value:
        """``value`` converted to the option's type, or OptionError saying what is wrong with it."""
        value = self._converted(value)
        if self.choices and value not in self.choices:
            raise OptionError(self.name, f"must be {self.range_text}", value)
        if self.minimum is not None and not self.minimum <= value <= self.maximum:  # NaN fails this too
            raise OptionError(self.name, f"must be from {self.range_text}", value)
        return value

    def _converted(self, value: object) -> Value:
        kind = self.kind
        # bool is an int in Python (and numpy's bool is no number at all): check it first, so that True is
        # not taken for 1 nor 1 for True.
        is_bool = isinstance(value, (bool, np.bool_))
        if kind is bool and is_bool:
            return bool(value)
        if kind is int and isinstance(value, (int, np.integer)) and not is_bool:
            return int(value)
        if kind is float and isinstance(value, (int, float, np.integer, np.floating)) and not is_bool:
            return float(value)
        if kind is str and isinstance(value, str):
            return value
        if kind is str and self.is_path and (value is None or isinstance(value, os.PathLike)):
            return "" if value is None else os.fspath(value)
        if kind is tuple and isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
            return tuple(value)
        raise OptionError(self.name, f"must be {'a folder path' if self.is_path else KIND_NAMES[kind]}", value)


def _option(default: Value, description: str, **spec) -> object:
    return field(default=default, metadata={"spec": {"description": description, **spec}})


@dataclass(frozen=True)
class TrackerOptions:
    """Every HandTracker option. Creating one validates all values (OptionError for the first bad one) and
    converts them (an int given for a float option becomes a float)."""

    max_num_hands: int = _option(
        2, "Maximum number of hands tracked per camera; lowering it drops the newest tracks at once.",
        minimum=1, maximum=10, flag="--max-hands")
    min_detection_confidence: float = _option(
        0.5, "Minimum palm-detector score for a new hand on the detector's word (MediaPipe's rule: it is kept "
             "when its presence reaches min_presence_confidence).", minimum=0.0, maximum=1.0)
    min_candidate_palm_confidence: float = _option(
        0.2, "Palms scoring from this up to min_detection_confidence are candidates: one becomes a hand only "
             "when the landmark model's presence on it reaches min_candidate_presence. At or above "
             "min_detection_confidence: no candidates (MediaPipe).", minimum=0.0, maximum=1.0)
    min_candidate_presence: float = _option(
        0.9, "Minimum presence of a new hand that the detector and the first landmark pass do not both "
             "confirm (a candidate palm, or a palm whose first presence is under min_presence_confidence), "
             "after refinement.", minimum=0.0, maximum=1.0)
    tile_wide_images: bool = _option(
        False, "Also run the palm detector on overlapping square tiles of an image whose longer side is at "
               "least 1.5 times its shorter one (a 16:9 camera: 3 tiles), which finds hands about half as big "
               "(in 1280x720: from about 55-90 px instead of 110-190 px). Each tile costs one more detector "
               "run whenever the detector runs.")
    refine_new_hands: bool = _option(
        True, "Read each new hand (every hand in static_image_mode) a second time from the upright, tight crop "
              "its first landmarks give, keeping the reading with the higher presence. Tracked hands never "
              "pay for it.", flag="--no-refinement")
    min_presence_confidence: float = _option(
        0.5, "Minimum hand-presence score of the landmark model; a tracked hand below it is dropped and the "
             "detector looks for hands again.", minimum=0.0, maximum=1.0)
    min_tracking_iou: float = _option(
        0.5, "A new palm detection overlapping a tracked hand's crop by more than this IoU is the same hand.",
        minimum=0.0, maximum=1.0)
    model_complexity: int = _option(
        1, "0: lite models (faster), 1: full models (more accurate). A change loads the other models.",
        minimum=0, maximum=1, changes_models=True)
    device: str = _option(
        "auto", "onnxruntime execution provider: auto picks tensorrt, then cuda, then cpu, the first that works "
                "here; asking for one that does not work here is refused. A change loads the models again.",
        choices=DEVICES, changes_models=True)
    mirrored: bool = _option(
        False, "Set for selfie-style (horizontally flipped) images: swaps the left/right handedness labels.")
    static_image_mode: bool = _option(
        False, "Run the palm detector on every image, without tracking between images (unrelated still "
               "images; the CLI always does for image files and folders).")
    detection_interval: int = _option(
        3, "While at least one hand is tracked and fewer than max_num_hands, look for more hands only every "
           "this many images (the palm detector costs more than a landmark inference). 1: every image, as "
           "MediaPipe.", minimum=1, maximum=30)
    max_detection_interval: int = _option(
        15, "Adaptive detector schedule: each detector run that finds no new hand doubles the interval from "
            "detection_interval up to this many images (15: half a second at 30 fps); a new or lost hand sets "
            "it back, a lost one with a look at the next image. At or below detection_interval, or with "
            "detection_interval 1 (every image, as MediaPipe): a fixed interval.", minimum=1, maximum=300)
    smoothing: bool = _option(
        True, "One Euro filtering of each track's image and world landmarks (less jitter, little lag).",
        flag="--no-smoothing")
    smoothing_min_cutoff: float = _option(
        IMAGE_SMOOTHING.min_cutoff, "One Euro min_cutoff (Hz) of the image landmarks: lower smooths a still "
                                    "hand more.", minimum=0.001, maximum=100.0)
    smoothing_beta: float = _option(
        IMAGE_SMOOTHING.beta, "One Euro beta of the image landmarks (per hand size per second): higher lags "
                              "less on fast moves.", minimum=0.0, maximum=1000.0)
    world_smoothing_min_cutoff: float = _option(
        WORLD_SMOOTHING.min_cutoff, "One Euro min_cutoff (Hz) of the world landmarks: lower smooths a still "
                                    "hand more.", minimum=0.001, maximum=100.0)
    world_smoothing_beta: float = _option(
        WORLD_SMOOTHING.beta, "One Euro beta of the world landmarks (per metre per second): higher lags less "
                              "on fast moves.", minimum=0.0, maximum=1000.0)
    gesture_hold_frames: int = _option(
        HOLD_FRAMES, "A gesture is reported once it has held for this many consecutive images (no flicker).",
        minimum=1, maximum=30)
    threads: int = _option(
        0, "0: automatic: one thread per inference, the hands (and streams) of a frame in inferences side by "
           "side, one per core, and as many threads cutting crops (at most 4 each); it holds its speed when "
           "other processes take cores. N: N onnxruntime threads per inference and N crop threads. A change "
           "loads the models again.", minimum=0, maximum=64, changes_models=True)
    models_dir: str = _option(
        "", "Folder with the .onnx model files; empty: the installed models. A change loads the models again.",
        changes_models=True, is_path=True)

    def __post_init__(self) -> None:
        for spec in OPTION_SPECS:
            object.__setattr__(self, spec.name, spec.check(getattr(self, spec.name)))

    def replace(self, **changes) -> TrackerOptions:
        """A copy with ``changes`` applied, all validated (OptionError) before any is taken."""
        unknown = sorted(set(changes) - set(OPTIONS))
        if unknown:
            raise TypeError(f"unknown tracker option {unknown[0]!r}; the options are: {', '.join(OPTIONS)}")
        return _replace(self, **changes)

    def changes_models_from(self, other: TrackerOptions) -> bool:
        """Whether going from ``other`` to these options needs other models."""
        return any(getattr(self, name) != getattr(other, name) for name in MODEL_OPTIONS)

    @property
    def image_smoothing(self) -> OneEuroParams:
        return OneEuroParams(self.smoothing_min_cutoff, self.smoothing_beta, IMAGE_SMOOTHING.derivate_cutoff)

    @property
    def world_smoothing(self) -> OneEuroParams:
        return OneEuroParams(self.world_smoothing_min_cutoff, self.world_smoothing_beta,
                             WORLD_SMOOTHING.derivate_cutoff)


def smoothing_options(image: OneEuroParams | None = None, world: OneEuroParams | None = None) -> dict:
    """TrackerOptions changes from One Euro parameter sets (HandTracker's ``image_smoothing`` and
    ``world_smoothing`` arguments). Their ``derivate_cutoff`` is fixed, so another one is refused."""
    changes = {}
    for argument, prefix, params, default in (("image_smoothing", "smoothing", image, IMAGE_SMOOTHING),
                                              ("world_smoothing", "world_smoothing", world, WORLD_SMOOTHING)):
        if params is None:
            continue
        if not isinstance(params, OneEuroParams):
            raise TypeError(f"{argument} must be OneEuroParams; got {type(params).__name__}")
        if params.derivate_cutoff != default.derivate_cutoff:
            raise OptionError(f"{argument}.derivate_cutoff", f"is fixed at {default.derivate_cutoff}",
                              params.derivate_cutoff)
        changes[f"{prefix}_min_cutoff"], changes[f"{prefix}_beta"] = params.min_cutoff, params.beta
    return changes


# The options that make HandTracker's output MediaPipe 0.10.21's own (parity tests and benchmarks): no
# smoothing, no second reading of new hands, no candidate palms under min_detection_confidence.
MEDIAPIPE_OPTIONS = {"smoothing": False, "refine_new_hands": False, "min_candidate_palm_confidence": 1.0}

OPTION_SPECS: tuple[OptionSpec, ...] = tuple(
    OptionSpec(name=option.name, default=option.default, **option.metadata["spec"])
    for option in fields(TrackerOptions))
OPTIONS: dict[str, OptionSpec] = {spec.name: spec for spec in OPTION_SPECS}
MODEL_OPTIONS: tuple[str, ...] = tuple(spec.name for spec in OPTION_SPECS if spec.changes_models)
