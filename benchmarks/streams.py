#!/usr/bin/env python3
"""Throughput with many simultaneous camera streams in one HandTracker (process_streams), e.g. on a GPU.

Every stream sees a 640x480 frame with two hands (hands/assorted/0.jpg, letterboxed); all hands of all
streams of a cycle go through the landmark model in one batch. Prints, per stream count: cycles per second,
frames per second over all streams, hand-landmark inferences per second, and the latency of one cycle
(median, p99), with the execution provider.

    python benchmarks/streams.py --device cuda --streams 1 2 8 32
    python benchmarks/streams.py --device cpu --streams 1 2 4
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
sys.path.insert(0, str(REPO_ROOT))

from hand_tracking_ros import HandTracker  # noqa: E402


def two_hand_frame() -> np.ndarray:
    image = cv2.cvtColor(cv2.imread(str(DATA_DIR / "hands/assorted/0.jpg")), cv2.COLOR_BGR2RGB)
    scale = min(640 / image.shape[1], 480 / image.shape[0])
    resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.zeros((480, 640, 3), np.uint8)
    top, left = (480 - resized.shape[0]) // 2, (640 - resized.shape[1]) // 2
    frame[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return frame


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 2, 8, 32])
    parser.add_argument("--cycles", type=int, default=100)
    args = parser.parse_args()

    frame = two_hand_frame()
    print(f"{'streams':>7} {'cycles/s':>9} {'frames/s':>9} {'landmark inf/s':>14} {'hands/frame':>11} "
          f"{'cycle med ms':>12} {'cycle p99 ms':>12}  provider")
    for count in args.streams:
        tracker = HandTracker(max_num_hands=2, device=args.device)
        images = {f"camera_{index}": frame for index in range(count)}
        for _ in range(5):  # warm-up: first detections, TensorRT engine build or cache load
            tracker.process_streams(images)
        latencies, hands = [], 0
        for _ in range(args.cycles):
            start = time.perf_counter()
            results = tracker.process_streams(images)
            latencies.append(time.perf_counter() - start)
            hands += sum(len(found) for found in results.values())
        seconds = np.array(latencies)
        cycles_per_second = len(seconds) / seconds.sum()
        print(f"{count:7d} {cycles_per_second:9.1f} {cycles_per_second * count:9.1f} "
              f"{hands / seconds.sum():14.1f} {hands / (count * args.cycles):11.2f} "
              f"{np.median(seconds) * 1e3:12.2f} {np.percentile(seconds, 99) * 1e3:12.2f}  {tracker.execution_provider}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
