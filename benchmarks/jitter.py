#!/usr/bin/env python3
"""Landmark jitter and lag: HandTracker with smoothing off and on, against MediaPipe 0.10.21 (which does
not smooth hands, reference doc 1.8) on the same frames.

Windows (frame numbers, 25 fps videos):
* jitter, thumbs_up_1280x720 frames 70-190: the thumb-up is held (the hand enters at frame 24 and settles
  by frame 65). The script prints the hand's true motion there, the frame-to-frame motion of a 15-frame
  centred average of the raw landmarks: about a sixth of the raw frame-to-frame motion, so what is
  measured is mostly jitter.
* jitter, reaching_hand_640x360 frames 100-200: the hand has arrived and barely moves; its raw jitter is
  small and about two thirds of its frame-to-frame motion is the hand's slow drift, so the drift-free
  measure (second difference) is the telling one there.
* lag, thumbs_up frames 25-64 (the hand sweeps in, up to 70 px per frame) and reaching_hand frames 0-90
  (the hand reaches towards the camera, a few px per frame).

Measures, over all 21 landmarks (image x, y in pixels; world in millimetres):
* jitter: mean frame-to-frame landmark motion; also as a percentage of the hand's size.
* accel: mean second difference |p[t+1] - 2 p[t] + p[t-1]|, which ignores motion at constant speed.
* lag: the delay in frames (0.05 steps) that best aligns the output with the same pipeline's unsmoothed
  landmarks over the moving window (MediaPipe's output is unsmoothed: 0 by definition).

    python benchmarks/jitter.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
sys.path.insert(0, str(REPO_ROOT))

import mediapipe_reference  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from hand_tracking_ros import HandTracker  # noqa: E402
from hand_tracking_ros.smoothing import OneEuroParams  # noqa: E402
from hand_tracking_ros.sources import FrameSource  # noqa: E402

STILL = {"thumbs_up_1280x720.mp4": (70, 190), "reaching_hand_640x360.mp4": (100, 200)}
MOVING = {"thumbs_up_1280x720.mp4": (25, 64), "reaching_hand_640x360.mp4": (0, 90)}
MEDIAPIPE_SHIPPED = (OneEuroParams(0.05, 80.0, 1.0), OneEuroParams(0.1, 40.0, 1.0))  # reference doc 1.8


def read_video(name: str) -> tuple[list[np.ndarray], float]:
    source = FrameSource(str(DATA_DIR / "videos" / name))
    fps = source.fps  # before reading: the source closes the video at its end
    return [frame.image_rgb for frame in source], fps


def first_hand_tracks(per_frame: list[list[tuple[np.ndarray, np.ndarray]]]) -> tuple[np.ndarray, np.ndarray]:
    """(T, 21, 3) image and world landmarks of the first hand, NaN in frames without one."""
    image = np.full((len(per_frame), 21, 3), np.nan)
    world = np.full((len(per_frame), 21, 3), np.nan)
    for index, hands in enumerate(per_frame):
        if hands:
            image[index], world[index] = hands[0]
    return image, world


def run_ours(frames: list[np.ndarray], fps: float, **options) -> tuple[np.ndarray, np.ndarray]:
    tracker = HandTracker(max_num_hands=1, **options)
    return first_hand_tracks([[(hand.landmarks, hand.world_landmarks)
                               for hand in tracker.process(frame, timestamp=index / fps)]
                              for index, frame in enumerate(frames)])


def run_mediapipe(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    results = mediapipe_reference.run(frames, static_image_mode=False, max_num_hands=1)
    return first_hand_tracks([[(hand["landmarks"], hand["world_landmarks"]) for hand in hands] for hands in results])


def jitter(points: np.ndarray, window: tuple[int, int]) -> float:
    return float(np.nanmean(np.linalg.norm(np.diff(points[window[0]:window[1]], axis=0), axis=-1)))


def accel(points: np.ndarray, window: tuple[int, int]) -> float:
    p = points[window[0]:window[1]]
    return float(np.nanmean(np.linalg.norm(p[2:] - 2 * p[1:-1] + p[:-2], axis=-1)))


def hand_size(image: np.ndarray, window: tuple[int, int]) -> float:
    """Mean of the landmarks' bounding-box width and height, averaged over the window (pixels)."""
    p = image[window[0]:window[1], :, :2]
    return float(np.nanmean(np.ptp(p, axis=1).mean(axis=-1)))


def true_motion(image: np.ndarray, window: tuple[int, int]) -> float:
    """Frame-to-frame motion of a 15-frame centred moving average of the landmarks (pixels)."""
    start, stop = max(window[0] - 7, 0), min(window[1] + 7, len(image))
    p = image[start:stop, :, :2]
    kernel = np.ones(15) / 15
    averaged = np.apply_along_axis(lambda series: np.convolve(series, kernel, mode="valid"), 0, p)
    return float(np.nanmean(np.linalg.norm(np.diff(averaged, axis=0), axis=-1)))


def lag(output: np.ndarray, reference: np.ndarray, window: tuple[int, int], max_frames: float = 4.0) -> float:
    """Delay (frames) that best aligns ``output`` with ``reference`` over the window (linear interpolation)."""
    frames = np.arange(max(window[0], 1), window[1])
    best_error, best_shift = np.inf, 0.0
    for shift in np.arange(-1.0, max_frames + 1e-9, 0.05):
        source = frames - shift
        lower = np.floor(source).astype(int)
        inside = (lower >= 0) & (lower + 1 < len(reference))
        fraction = (source - lower)[inside, None, None]
        shifted = reference[lower[inside]] * (1 - fraction) + reference[lower[inside] + 1] * fraction
        error = np.nanmean(np.linalg.norm(output[frames[inside]] - shifted, axis=-1))
        if error < best_error:
            best_error, best_shift = error, shift
    return float(best_shift)


def main() -> None:
    print(__doc__.split("\n\n")[0])
    rows = []
    for name in STILL:
        frames, fps = read_video(name)
        raw_image, raw_world = run_ours(frames, fps, smoothing=False)
        runs = {
            "ours, smoothing off": (raw_image, raw_world),
            "ours, smoothing on (defaults)": run_ours(frames, fps),
            "ours, MediaPipe's shipped One Euro sets": run_ours(frames, fps, image_smoothing=MEDIAPIPE_SHIPPED[0],
                                                               world_smoothing=MEDIAPIPE_SHIPPED[1]),
            "MediaPipe 0.10.21 (no smoothing)": run_mediapipe(frames),
        }
        still, moving = STILL[name], MOVING[name]
        size = hand_size(raw_image, still)
        print(f"\n{name} ({len(frames)} frames, {fps:g} fps): jitter over frames {still[0]}-{still[1]} "
              f"(hand {size:.0f} px; its true motion there about {true_motion(raw_image, still):.2f} px/frame), "
              f"lag over frames {moving[0]}-{moving[1]}")
        print(f"{'':42}{'jitter px':>10}{'% hand':>8}{'accel px':>9}{'world mm':>9}{'lag fr':>8}{'world lag':>10}")
        mediapipe_image, mediapipe_world = runs["MediaPipe 0.10.21 (no smoothing)"]
        for label, (image, world) in runs.items():
            is_mediapipe = label.startswith("MediaPipe")
            image_lag = 0.0 if is_mediapipe else lag(image[..., :2], raw_image[..., :2], moving)
            world_lag = 0.0 if is_mediapipe else lag(world, raw_world, moving)
            values = (jitter(image[..., :2], still), accel(image[..., :2], still), 1000 * jitter(world, still))
            print(f"{label:42}{values[0]:>10.2f}{100 * values[0] / size:>8.2f}{values[1]:>9.2f}{values[2]:>9.2f}"
                  f"{image_lag:>8.2f}{world_lag:>10.2f}")
            rows.append((name, label, values, image_lag, world_lag))
        smoothed = [row for row in rows if row[0] == name and row[1] == "ours, smoothing on (defaults)"][0]
        reference = (jitter(mediapipe_image[..., :2], still), accel(mediapipe_image[..., :2], still),
                     1000 * jitter(mediapipe_world, still))
        print(f"{'ratio MediaPipe / ours smoothed':42}{reference[0] / smoothed[2][0]:>9.2f}x{'':8}"
              f"{reference[1] / smoothed[2][1]:>8.2f}x{reference[2] / smoothed[2][2]:>8.2f}x")
    print("\nTarget: at least 2x less jitter than MediaPipe with at most 1 frame of lag on moving hands.")


if __name__ == "__main__":
    main()
