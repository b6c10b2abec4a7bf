"""Shared test helpers: the real data in ../shared/data, the parity dependencies, and what plain pytest skips."""

from __future__ import annotations

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
PARITY_WHEELS = {"mediapipe": "mediapipe 0.10.21 has wheels for Python 3.10-3.12",
                 "tflite_runtime": "tflite-runtime 2.14.0 has wheels for Linux and Python 3.10-3.11"}

# Launch tests need launch_testing's runner: `launch_test FILE` or `colcon test`. pytest 8 and 9 cannot
# collect them with the launch_testing of Humble and Jazzy ("found no collectors"), and pytest.ini keeps
# that plugin out of plain pytest runs, so plain pytest reports them as skipped instead of importing them.
LAUNCH_TESTS = {"test_node_launch.py"}


def import_parity_reference(module: str):
    """Import mediapipe or tflite_runtime (or a submodule), or skip the test with the reason."""
    top = module.split(".")[0]
    return pytest.importorskip(module, reason=f"{top} is not installed: pip install -e \".[parity]\" "
                                              f"({PARITY_WHEELS[top]})")


class LaunchTestFile(pytest.File):
    def collect(self):
        pytest.skip(f"a ROS 2 launch test: run it with `launch_test test/{self.path.name}` or `colcon test`")


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    if module_path.name in LAUNCH_TESTS:
        return LaunchTestFile.from_parent(parent, path=module_path)
    return None


def load_rgb(relative_path: str) -> np.ndarray:
    bgr = cv2.imread(str(DATA_DIR / relative_path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"cannot read {DATA_DIR / relative_path}"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


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
