"""Shared test helpers: the real data in ../shared/data, the parity dependencies, and what plain pytest skips."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
# benchmarks/mediapipe_reference.py is shared by the parity tests and the benchmarks.
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

# The references that parity tests compare with come from the `parity` extra, which installs each only
# where it has wheels; elsewhere those tests skip and say why.
MEDIAPIPE_WHEELS = "mediapipe 0.10.21 has wheels for Python 3.10-3.12"
# TFLite's Python interpreter: tflite-runtime up to Python 3.11, its successor ai-edge-litert from 3.12.
TFLITE_INTERPRETERS = ("tflite_runtime.interpreter", "ai_edge_litert.interpreter")
TFLITE_WHEELS = "tflite-runtime 2.14.0 on Linux with Python 3.10-3.11, ai-edge-litert 2.3.0 on Linux with 3.12"

# Launch tests need launch_testing's runner: `launch_test FILE` or `colcon test`. pytest 8 and 9 cannot
# collect them with the launch_testing of Humble and Jazzy ("found no collectors"), and pytest.ini keeps
# that plugin out of plain pytest runs, so plain pytest reports them as skipped instead of importing them.
LAUNCH_TESTS = {"test_node_launch.py"}


def import_mediapipe():
    """The reference implementation, or a skip of the test with the reason."""
    return pytest.importorskip("mediapipe", reason=f"mediapipe is not installed: pip install -e \".[parity]\" "
                                                   f"({MEDIAPIPE_WHEELS})")


def import_tflite_interpreter():
    """A module with TFLite's ``Interpreter``, or a skip of the test with the reason."""
    for module in TFLITE_INTERPRETERS:
        try:
            return importlib.import_module(module)
        except ImportError:
            continue
    pytest.skip(f"no TFLite interpreter installed: pip install -e \".[parity]\" ({TFLITE_WHEELS})")


class LaunchTestFile(pytest.File):
    """A launch test as plain pytest sees it: one skipped item, the file never imported."""

    def collect(self):
        item = LaunchTestItem.from_parent(self, name=self.path.stem)
        item.add_marker(pytest.mark.skip(
            reason=f"a ROS 2 launch test: run it with `launch_test test/{self.path.name}` or `colcon test`"))
        yield item


class LaunchTestItem(pytest.Item):
    def runtest(self):  # never called: the skip marker ends the item first
        raise NotImplementedError("launch tests run under launch_test, not pytest")

    def reportinfo(self):
        return self.path, 0, self.name


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    if module_path.name in LAUNCH_TESTS:
        return LaunchTestFile.from_parent(parent, path=module_path)
    return None


def load_rgb(relative_path: str) -> np.ndarray:
    bgr = cv2.imread(str(DATA_DIR / relative_path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"cannot read {DATA_DIR / relative_path}"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rosbags_messages():
    """rosbags' type store with this package's messages and the ``msgs`` namespace of its classes
    (``ros_conversions``); skips the calling test module where rosbags, a test dependency, is missing."""
    pytest.importorskip("rosbags", reason="rosbags is not installed (pip install -e \".[test]\")")
    from hand_tracking_ros.rosbags_messages import make_typestore, message_namespace

    typestore = make_typestore()
    return typestore, message_namespace(typestore)


def read_video(relative_path: str, max_frames: int | None = None) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(DATA_DIR / relative_path))
    frames = []
    while max_frames is None or len(frames) < max_frames:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    assert frames, f"cannot read {DATA_DIR / relative_path}"
    return frames


def pytest_sessionstart(session):
    if not DATA_DIR.is_dir():
        pytest.exit(f"test data not found at {DATA_DIR}: the shared/ folder must sit beside the repository "
                    "(README, 'The sample data')", returncode=1)
