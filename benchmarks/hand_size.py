#!/usr/bin/env python3
"""How small and how large a hand can be and still be found (static image mode, default thresholds).

A hand's size is the larger side of the box around its 21 landmarks, measured on the original photo.

1. Far away: the whole photo is scaled down and pasted into a 1280x720 frame (a real photo without hands
   as the background), so that the hand's box is N pixels; N shrinks by about 10% a step.
2. Close up: the photo is cropped to a square around the hand so that the hand takes a fraction F of the
   frame's side (F grows by 0.1 a step; past the photo's edges the crop is mirrored), resized to 640x640.
3. ``hands/victory.jpg`` (3000x4000, the hand fills the photo): as it is, scaled down, and with grey borders
   (MediaPipe 0.10.21 finds it in none of these either).

    python benchmarks/hand_size.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
sys.path.insert(0, str(REPO_ROOT))

from speed import cpu_description  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from hand_tracking_ros import HandTracker  # noqa: E402

PHOTOS = ("hands/hand_left.jpg", "hands/thumb_up_2.jpg", "hands/thumbs_up.png", "hands/assorted/2.jpg")
BACKGROUND = "negatives/kodim03.png"
FRAME = (1280, 720)
SMALLEST = 16  # pixels: where the far-away steps stop


def load_rgb(relative: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(DATA_DIR / relative), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def hand_box(tracker: HandTracker, image: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Centre and larger side (pixels) of the landmark box of the hand found, or None."""
    hands = tracker.process(np.ascontiguousarray(image))
    if not hands:
        return None
    points = hands[0].landmarks[:, :2]
    low, high = points.min(axis=0), points.max(axis=0)
    return (low + high) / 2, float((high - low).max())


def found_at(tracker: HandTracker, image: np.ndarray, expected_centre: np.ndarray, size: float) -> bool:
    found = hand_box(tracker, image)
    return found is not None and np.linalg.norm(found[0] - expected_centre) < max(size, 4)


def far_away(tracker: HandTracker, photo: np.ndarray, centre: np.ndarray, size: float, framed: bool
             ) -> tuple[float | None, float | None]:
    """Smallest hand size found before the first miss, and the size of that miss: the photo scaled down and
    pasted into a 1280x720 frame (``framed``) or scaled down alone."""
    background = cv2.resize(load_rgb(BACKGROUND), FRAME, interpolation=cv2.INTER_AREA)
    target, smallest = min(400.0, size), None
    while target >= SMALLEST:
        scale = target / size
        image = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        offset = np.zeros(2)
        if framed:
            image = image[:FRAME[1], :FRAME[0]]
            top, left = (FRAME[1] - image.shape[0]) // 2, (FRAME[0] - image.shape[1]) // 2
            frame = background.copy()
            frame[top:top + image.shape[0], left:left + image.shape[1]] = image
            image, offset = frame, np.array([left, top])
        if not found_at(tracker, image, centre * scale + offset, target):
            return smallest, target
        smallest = target
        target *= 0.9
    return smallest, None


def close_up(tracker: HandTracker, photo: np.ndarray, centre: np.ndarray, size: float) -> float | None:
    """Largest fraction of the frame's side the hand may take, found at every step up to it."""
    largest = None
    for fraction in np.arange(0.3, 1.31, 0.1):
        side = int(round(size / fraction))
        padded = cv2.copyMakeBorder(photo, side, side, side, side, cv2.BORDER_REFLECT)
        x, y = (centre + side / 2).astype(int)  # the crop's corner in the padded image
        crop = cv2.resize(padded[y:y + side, x:x + side], (640, 640), interpolation=cv2.INTER_AREA)
        if not found_at(tracker, crop, np.array([320.0, 320.0]), 640 * fraction):
            break
        largest = float(fraction)
    return largest


def victory_variants(tracker: HandTracker) -> dict[str, int]:
    """Hands found in hands/victory.jpg as it is, scaled down, and with a grey border that shrinks the hand."""
    photo = load_rgb("hands/victory.jpg")
    variants = {"as it is (3000x4000)": photo}
    for width, height in ((750, 1000), (300, 400)):
        variants[f"scaled to {width}x{height}"] = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
    small = variants["scaled to 750x1000"]
    for border in (0.5, 1.0):
        pad_y, pad_x = int(border * small.shape[0]), int(border * small.shape[1])
        variants[f"750x1000 with a grey border of {border:.0%} each side"] = cv2.copyMakeBorder(
            small, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    return {name: len(tracker.process(image)) for name, image in variants.items()}


def pixels(value: float | None, width: int | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} px" + (f" ({value / width:.0%})" if width else "")


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    tracker = HandTracker(static_image_mode=True, max_num_hands=1)
    print("hand size: larger side of the landmark box; 'found down to': every step (-10%) down to it found; "
          "'missed at': the next step")
    header = ("photo", "hand", "in 1280x720: found down to", "missed at", "photo alone: found down to",
              "close-up: found up to")
    print(f"{header[0]:<24}{header[1]:>8}{header[2]:>28}{header[3]:>16}{header[4]:>28}{header[5]:>23}")
    for name in PHOTOS:
        photo = load_rgb(name)
        centre, size = hand_box(tracker, photo)
        framed, framed_miss = far_away(tracker, photo, centre, size, framed=True)
        alone, _ = far_away(tracker, photo, centre, size, framed=False)
        largest = close_up(tracker, photo, centre, size)
        print(f"{name:<24}{size:>5.0f} px{pixels(framed, FRAME[0]):>28}{pixels(framed_miss, FRAME[0]):>16}"
              f"{pixels(alone):>28}{'-' if largest is None else f'{largest:.0%} of the side':>23}")
    print("\nhands/victory.jpg (a close-up whose hand fills the photo): hands found")
    for variant, count in victory_variants(tracker).items():
        print(f"  {variant:<48}{count}")
    print(f"\n{cpu_description()}; onnxruntime {__import__('onnxruntime').__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
