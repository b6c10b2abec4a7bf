#!/usr/bin/env python3
"""Landmarks of this pipeline against MediaPipe 0.10.21 (mp.solutions.hands, full models) on the real data.

Smoothing is off on our side, so both report the models' own landmarks. For each case it prints the frames
where the two find a different number of hands, the hands compared, and the distance between matched hands
(per hand: the median over its 21 landmarks of the x, y distance in pixels; then the median, 95th percentile
and maximum over hands), plus how often the handedness labels agree. Tracking runs both with MediaPipe's
detector schedule (detection_interval=1) and with our default.

    python benchmarks/parity.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
sys.path.insert(0, str(REPO_ROOT))

import mediapipe_reference  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from hand_tracking_ros import HandTracker  # noqa: E402
from hand_tracking_ros.options import MEDIAPIPE_OPTIONS  # noqa: E402  (no smoothing, refinement, candidates)
from hand_tracking_ros.sources import FrameSource  # noqa: E402


def read_rgb(*relative_paths: str) -> list[np.ndarray]:
    """Every decodable frame of these images, image folders (sorted by name) or videos under DATA_DIR."""
    return [frame.image_rgb for path in relative_paths for frame in FrameSource(str(DATA_DIR / path))
            if frame.image_rgb is not None]


def compare(frames: list[np.ndarray], static: bool, **options) -> dict:
    references = mediapipe_reference.run(frames, static_image_mode=static, max_num_hands=2)
    tracker = HandTracker(max_num_hands=2, static_image_mode=static, **{**MEDIAPIPE_OPTIONS, **options})
    count_differs, errors, same_handedness = 0, [], 0
    for frame, theirs in zip(frames, references):
        ours = tracker.process(frame)
        count_differs += len(ours) != len(theirs)
        for hand, reference in mediapipe_reference.match_hands(ours, theirs):
            errors.append(mediapipe_reference.median_pixel_error(hand.landmarks, reference["landmarks"]))
            same_handedness += hand.handedness == reference["handedness"]
    return {"frames": len(frames), "count_differs": count_differs, "errors": np.array(errors),
            "same_handedness": same_handedness}


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    photos = read_rgb("hands", "hands/assorted")
    negatives = read_rgb("negatives")  # the images; FrameSource leaves the folder's video out
    videos = {name: read_rgb(f"videos/{name}") for name in ("reaching_hand_640x360.mp4", "thumbs_up_1280x720.mp4")}
    cases = [("hand photos", "static", photos, True, {}), ("negative photos", "static", negatives, True, {})]
    for name, frames in videos.items():
        cases += [(name, "tracking, det=1", frames, False, {"detection_interval": 1}),
                  (name, "tracking", frames, False, {})]
    cases.append(("negatives/cockatoo.mp4", "tracking", read_rgb("negatives/cockatoo.mp4"), False, {}))

    header = (f"{'data':26} {'mode':16} {'frames':>6} {'count differs':>13} {'hands':>5} {'median px':>9} "
              f"{'p95 px':>7} {'max px':>7} {'same handedness':>15}")
    print(header)
    print("-" * len(header))
    for name, mode, frames, static, options in cases:
        result = compare(frames, static, **options)
        errors = result["errors"]
        stats = (f"{np.median(errors):9.2f} {np.percentile(errors, 95):7.2f} {errors.max():7.2f}" if len(errors)
                 else f"{'-':>9} {'-':>7} {'-':>7}")
        print(f"{name:26} {mode:16} {result['frames']:6d} {result['count_differs']:13d} {len(errors):5d} {stats} "
              f"{result['same_handedness']:>9d}/{len(errors):<5d}")
    print(f"\nmediapipe {__import__('mediapipe').__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
