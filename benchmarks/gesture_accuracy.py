#!/usr/bin/env python3
"""Accuracy of the rule-based gestures (hand_tracking_ros.gestures) on the shared real data.

1. ``landmarks/keypoint.csv``: 4,450 rows of 2D MediaPipe landmarks labelled Open, Close, Pointer. The rows
   have only x, y, so this measures the 2D path. Open counts as right when the gesture is open_palm (five
   with counting names), Close when fist, Pointer when pointing_up or one (the index finger in any
   direction).
2. ``gestures/{call,four,rock,none}/``: 10 photos each, run through HandTracker (static image mode, up to
   two hands; the gesture comes from the world landmarks). A photo's prediction is the best-scoring
   gesture among its hands that is one of call, four, rock, or "none" when no hand shows one of them (the
   other hand in a photo is usually relaxed, and gestures outside the three are "none" by the data's
   definition). ``hands/`` thumb-up photos are reported alongside.

    python benchmarks/gesture_accuracy.py
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
sys.path.insert(0, str(REPO_ROOT))

from hand_tracking_ros import HandTracker  # noqa: E402
from hand_tracking_ros.gestures import classify_gestures  # noqa: E402

KEYPOINT_CLASSES = ("Open", "Close", "Pointer")
KEYPOINT_ACCEPTED = {"Open": {"open_palm"}, "Close": {"fist"}, "Pointer": {"pointing_up", "one"}}
PHOTO_CLASSES = ("call", "four", "rock", "none")
THUMB_UP_PHOTOS = ("hands/thumb_up_2.jpg", "hands/thumbs_up.png", "hands/hand_left.jpg")


def keypoint_rows() -> tuple[np.ndarray, np.ndarray]:
    """Class names (N,) and 2D points (N, 21, 2) of keypoint.csv."""
    table = np.loadtxt(DATA_DIR / "landmarks" / "keypoint.csv", delimiter=",")
    return np.array(KEYPOINT_CLASSES)[table[:, 0].astype(int)], table[:, 1:].reshape(-1, 21, 2)


def keypoint_predictions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true class, predicted gesture or None, points) per keypoint.csv row."""
    labels, points = keypoint_rows()
    names, _ = classify_gestures(points)
    return labels, names, points


def keypoint_accuracy(labels: np.ndarray, names: np.ndarray) -> dict[str, float]:
    return {label: float(np.mean([name in KEYPOINT_ACCEPTED[label] for name in names[labels == label]]))
            for label in KEYPOINT_CLASSES}


def seen_from_behind(points: np.ndarray) -> np.ndarray:
    """Rows whose index and middle fingers both fold back over the palm at the knuckle (> 120 deg) in the
    image: a hand seen from behind, its fingers pointing away from the camera. In 2D a pointing index and
    a curled one look alike there (the diagnosis of most Pointer misses)."""
    wrist, index_mcp, index_pip, middle_mcp, middle_pip = (points[:, i] for i in (0, 5, 6, 9, 10))

    def knuckle_angle(mcp, pip):
        a, b = mcp - wrist, pip - mcp
        cos = np.sum(a * b, -1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
        return np.degrees(np.arccos(np.clip(cos, -1, 1)))

    return (knuckle_angle(index_mcp, index_pip) > 120) & (knuckle_angle(middle_mcp, middle_pip) > 120)


def photo_prediction(hands) -> tuple[str, list]:
    """The photo's label under the rule in the module doc, and every hand's (gesture, score)."""
    found = [(hand.gesture, hand.gesture_score) for hand in hands]
    listed = [(score, name) for name, score in found if name in PHOTO_CLASSES]
    return (max(listed)[1] if listed else "none"), found


def load_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def photo_predictions(tracker: HandTracker) -> list[tuple[str, str, str, list]]:
    """(true class, predicted class, file name, all hands' gestures) per gesture photo."""
    rows = []
    for label in PHOTO_CLASSES:
        for path in sorted((DATA_DIR / "gestures" / label).glob("*.jpg")):
            predicted, found = photo_prediction(tracker.process(load_rgb(path)))
            rows.append((label, predicted, path.name, found))
    return rows


def print_confusion(title: str, pairs: list[tuple[str, str]], rows: tuple[str, ...]) -> None:
    counts = Counter(pairs)
    columns = sorted({predicted for _, predicted in pairs}, key=lambda name: (name == "None", name))
    width = max(12, *(len(name) + 1 for name in columns))
    print(f"\n{title} (rows: true class, columns: predicted)")
    print(f"{'':10}" + "".join(f"{name:>{width}}" for name in columns) + f"{'accuracy':>10}")
    for label in rows:
        total = sum(counts[(label, name)] for name in columns)
        right = sum(counts[(label, name)] for name in columns if name in accepted(label))
        print(f"{label:10}" + "".join(f"{counts[(label, name)]:>{width}}" for name in columns)
              + f"{right / max(total, 1):>10.3f}")


def accepted(label: str) -> set[str]:
    return KEYPOINT_ACCEPTED.get(label, {label})


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    labels, names, points = keypoint_predictions()
    print_confusion("keypoint.csv, 2D points", [(label, str(name)) for label, name in zip(labels, names)],
                    KEYPOINT_CLASSES)
    behind = seen_from_behind(points)
    pointer = labels == "Pointer"
    right = np.isin(names, list(KEYPOINT_ACCEPTED["Pointer"]))
    print(f"Pointer rows seen from behind (index and middle folded back > 120 deg in the image): "
          f"{(pointer & behind).sum()} of {pointer.sum()}, accuracy {right[pointer & behind].mean():.3f}; "
          f"other Pointer rows: accuracy {right[pointer & ~behind].mean():.3f}")

    tracker = HandTracker(static_image_mode=True, max_num_hands=2)
    rows = photo_predictions(tracker)
    print_confusion("gesture photos, HandTracker world landmarks",
                    [(label, predicted) for label, predicted, *_ in rows], PHOTO_CLASSES)
    for label, predicted, name, found in rows:
        if predicted != label:
            hands = [(gesture, round(score, 2)) for gesture, score in found] or "no hand found"
            print(f"  miss: {label}/{name} -> {predicted}; hands: {hands}")
    print("\nthumb-up photos:")
    for name in THUMB_UP_PHOTOS:
        hands = tracker.process(load_rgb(DATA_DIR / name))
        print(f"  {name}: {[(hand.gesture, round(hand.gesture_score, 2)) for hand in hands]}")


if __name__ == "__main__":
    main()
