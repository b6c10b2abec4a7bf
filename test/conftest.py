"""Shared test helpers: the real data in ../shared/data and cached real models."""

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


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.fail(f"test data not found at {DATA_DIR}: the shared/ folder must sit beside the repository")
    return DATA_DIR
