"""TrackerOptions: one place for every tracker option's default, type and bounds, and the CLI flags derived
from it. No models are loaded here except in the last test."""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from hand_tracking_ros.cli import add_tracker_arguments, tracker_from_arguments
from hand_tracking_ros.options import (
    MODEL_OPTIONS,
    OPTION_SPECS,
    OPTIONS,
    OptionError,
    TrackerOptions,
    smoothing_options,
)
from hand_tracking_ros.smoothing import IMAGE_SMOOTHING, OneEuroParams

FLOAT_OPTIONS = [spec.name for spec in OPTION_SPECS if spec.kind is float]
INT_OPTIONS = [spec.name for spec in OPTION_SPECS if spec.kind is int]
# Flags users have in their scripts (a contract).
FLAGS = ("--max-hands", "--static-image-mode", "--model-complexity", "--detection-interval",
         "--min-detection-confidence", "--min-presence-confidence", "--mirrored", "--device", "--no-smoothing",
         "--smoothing-min-cutoff", "--smoothing-beta", "--gesture-hold-frames", "--threads", "--min-tracking-iou")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hand-tracking", exit_on_error=False, add_help=False)
    add_tracker_arguments(parser)
    return parser


@pytest.mark.parametrize("spec", OPTION_SPECS, ids=lambda spec: spec.name)
def test_each_default_is_valid_and_described(spec):
    assert spec.check(spec.default) == spec.default
    assert getattr(TrackerOptions(), spec.name) == spec.default
    assert len(spec.description) > 20
    if spec.minimum is not None:
        assert spec.minimum <= spec.default <= spec.maximum
        assert type(spec.minimum) is type(spec.maximum) is spec.kind  # "1 to 10", "0.0 to 1.0" in messages


def test_every_tracker_option_is_there_and_the_model_options_are_known():
    assert {"max_num_hands", "min_detection_confidence", "min_presence_confidence", "min_tracking_iou",
            "model_complexity", "device", "mirrored", "static_image_mode", "detection_interval", "smoothing",
            "smoothing_min_cutoff", "smoothing_beta", "gesture_hold_frames", "threads", "models_dir"} <= set(OPTIONS)
    assert set(MODEL_OPTIONS) == {"model_complexity", "device", "threads", "models_dir"}
    assert TrackerOptions(threads=2).changes_models_from(TrackerOptions())
    assert not TrackerOptions(max_num_hands=1, smoothing=False).changes_models_from(TrackerOptions())


@pytest.mark.parametrize("name", FLOAT_OPTIONS)
def test_an_integer_is_a_float_and_nan_is_out_of_range(name):
    spec = OPTIONS[name]
    value = getattr(TrackerOptions(**{name: int(spec.maximum)}), name)
    assert value == spec.maximum and type(value) is float
    assert getattr(TrackerOptions(**{name: np.float32(spec.maximum)}), name) == spec.maximum
    for bad in (float("nan"), math.inf, -math.inf):
        with pytest.raises(OptionError, match=rf"^{name} must be from {spec.minimum} to {spec.maximum}, got"):
            TrackerOptions(**{name: bad})
    with pytest.raises(OptionError, match=rf"^{name} must be a number, got True"):
        TrackerOptions(**{name: True})
    with pytest.raises(OptionError, match=rf"^{name} must be a number, got '0.5'"):
        TrackerOptions(**{name: "0.5"})


@pytest.mark.parametrize("name", INT_OPTIONS)
def test_an_integer_option_takes_integers_only(name):
    spec = OPTIONS[name]
    assert getattr(TrackerOptions(**{name: np.int64(spec.maximum)}), name) == spec.maximum
    for bad in (1.5, 2.0, "2", True, None):
        with pytest.raises(OptionError, match=rf"^{name} must be an integer, got {bad!r}$"):
            TrackerOptions(**{name: bad})
    for bad in (spec.minimum - 1, spec.maximum + 1):
        with pytest.raises(OptionError, match=rf"^{name} must be from {spec.minimum} to {spec.maximum}, got {bad}$"):
            TrackerOptions(**{name: bad})


@pytest.mark.parametrize("changes, message", [
    ({"threads": 1000}, "threads must be from 0 to 64, got 1000"),  # once took ten minutes to build
    ({"max_num_hands": 0}, "max_num_hands must be from 1 to 10, got 0"),
    ({"detection_interval": 0}, "detection_interval must be from 1 to 30, got 0"),
    ({"min_presence_confidence": -0.1}, "min_presence_confidence must be from 0.0 to 1.0, got -0.1"),
    ({"model_complexity": 2}, "model_complexity must be from 0 to 1, got 2"),
    ({"device": "gpu"}, "device must be one of: auto, tensorrt, cuda, cpu, got 'gpu'"),
    ({"mirrored": 1}, "mirrored must be a bool, got 1"),
    ({"static_image_mode": "yes"}, "static_image_mode must be a bool, got 'yes'"),
    ({"models_dir": 3}, "models_dir must be a folder path, got 3"),
    ({"smoothing_min_cutoff": 0.0}, "smoothing_min_cutoff must be from 0.001 to 100.0, got 0.0"),
])
def test_bad_values_are_refused_naming_the_option(changes, message):
    with pytest.raises(OptionError) as error:
        TrackerOptions(**changes)
    assert str(error.value) == message
    assert error.value.option == next(iter(changes))


def test_accepted_values_are_converted():
    options = TrackerOptions(mirrored=np.bool_(True), models_dir=Path("/some/models"), min_tracking_iou=0)
    assert options.mirrored is True and options.models_dir == "/some/models" and options.min_tracking_iou == 0.0
    assert TrackerOptions(models_dir=None).models_dir == ""


def test_replace_is_all_or_nothing_and_knows_the_names():
    options = TrackerOptions()
    with pytest.raises(OptionError, match="max_num_hands"):
        options.replace(mirrored=True, max_num_hands=99)
    assert options.mirrored is False
    with pytest.raises(TypeError, match="unknown tracker option 'max_hands'"):
        options.replace(max_hands=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.max_num_hands = 1
    assert options.replace(max_num_hands=1, smoothing=False) == TrackerOptions(max_num_hands=1, smoothing=False)


def test_one_euro_parameter_sets_become_options():
    options = TrackerOptions(**smoothing_options(OneEuroParams(0.2, 30.0), OneEuroParams(0.3, 40.0)))
    assert options.image_smoothing == OneEuroParams(0.2, 30.0) and options.world_smoothing == OneEuroParams(0.3, 40.0)
    assert TrackerOptions().image_smoothing == IMAGE_SMOOTHING
    with pytest.raises(OptionError, match="image_smoothing.derivate_cutoff is fixed at 1.0, got 2.0"):
        smoothing_options(OneEuroParams(0.2, 30.0, derivate_cutoff=2.0))


def test_an_option_error_renders_under_another_name():
    with pytest.raises(OptionError) as error:
        TrackerOptions(detection_interval=0)
    assert error.value.message_for("--detection-interval") == "--detection-interval must be from 1 to 30, got 0"
    renamed = error.value.renamed("--detection-interval")
    assert str(renamed) == "--detection-interval must be from 1 to 30, got 0" and renamed.option == "detection_interval"


def test_every_option_has_a_flag_with_its_default():
    actions = {flag: action for action in parser()._actions for flag in action.option_strings}
    assert set(FLAGS) <= set(actions)
    assert {action.dest for action in actions.values()} == set(OPTIONS)
    defaults = parser().parse_args([])
    assert TrackerOptions(**vars(defaults)) == TrackerOptions()


def test_flags_give_typed_checked_values():
    args = parser().parse_args(["--max-hands", "1", "--min-detection-confidence", "1", "--no-smoothing",
                                "--device", "cpu", "--threads", "2", "--mirrored", "--models-dir", "/m"])
    assert (args.max_num_hands, args.min_detection_confidence, args.smoothing, args.device, args.threads,
            args.mirrored, args.models_dir) == (1, 1.0, False, "cpu", 2, True, "/m")
    assert type(args.min_detection_confidence) is float


@pytest.mark.parametrize("argv, message", [
    (["--detection-interval", "0"], "argument --detection-interval: must be from 1 to 30, got 0"),
    (["--max-hands", "1.5"], "argument --max-hands: must be an integer, got '1.5'"),
    (["--threads", "1000"], "argument --threads: must be from 0 to 64, got 1000"),
    (["--min-detection-confidence", "nan"], "argument --min-detection-confidence: must be from 0.0 to 1.0, got nan"),
    (["--device", "gpu"], "argument --device: must be one of: auto, tensorrt, cuda, cpu, got 'gpu'"),
    (["--smoothing-beta", "fast"], "argument --smoothing-beta: must be a number, got 'fast'"),
])
def test_bad_flag_values_are_usage_errors_naming_the_flag(argv, message):
    with pytest.raises(argparse.ArgumentError) as error:
        parser().parse_args(argv)
    assert str(error.value) == message


def test_tracker_from_arguments_names_the_flag_and_takes_every_option():
    args = parser().parse_args(["--model-complexity", "0", "--max-hands", "1", "--threads", "1"])
    with pytest.raises(OptionError, match="^--detection-interval must be from 1 to 30, got 0$"):
        tracker_from_arguments(argparse.Namespace(**{**vars(args), "detection_interval": 0}))
    tracker = tracker_from_arguments(args, static_image_mode=True)
    assert tracker.options == TrackerOptions(model_complexity=0, max_num_hands=1, threads=1, static_image_mode=True)
