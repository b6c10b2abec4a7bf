#!/usr/bin/env python3
"""Speed of this pipeline against MediaPipe 0.10.21 (mp.solutions.hands), side by side in one run.

Both run on the same decoded frames, one after the other, in this process: tracking and static mode, one
hand (reaching_hand_640x360), a 1280x720 video (thumbs_up) and two hands (two videos side by side). For each
it prints frames per second, per-frame latency (median, p99), palm-detector runs per frame, peak memory
(resident set growth while the pipeline is built and run) and the ratio to MediaPipe, then a profile of
where our time goes per stage.

    python benchmarks/speed.py                 # everything (a few minutes on 2 cores)
    python benchmarks/speed.py --cases one_hand --modes tracking --repeat 1
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
sys.path.insert(0, str(REPO_ROOT))

import mediapipe_reference  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from hand_tracking_ros import HandTracker, landmarks  # noqa: E402
from hand_tracking_ros import tracker as tracker_module  # noqa: E402


def read_frames(name: str, size: tuple[int, int] | None = None, limit: int | None = None) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(DATA_DIR / "videos" / name))
    frames = []
    while limit is None or len(frames) < limit:
        ok, bgr = capture.read()
        if not ok:
            break
        if size is not None:
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return frames


def load_cases(names: list[str]) -> dict[str, tuple[list[np.ndarray], int, float]]:
    """case -> (frames, max_num_hands, seconds spent decoding)."""
    cases = {}
    for name in names:
        start = time.perf_counter()
        if name == "one_hand":
            frames, hands = read_frames("reaching_hand_640x360.mp4"), 2
        elif name == "hd_video":
            frames, hands = read_frames("thumbs_up_1280x720.mp4"), 2
        elif name == "two_hands":
            left = read_frames("reaching_hand_640x360.mp4")
            right = read_frames("thumbs_up_1280x720.mp4", size=(640, 360), limit=len(left))
            frames, hands = [np.hstack([a, b]) for a, b in zip(left, right)], 2
        else:
            raise SystemExit(f"unknown case {name}")
        cases[name] = (frames, hands, time.perf_counter() - start)
    return cases


def resident_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_memory():
    """Yields a dict whose 'peak' is the largest resident-set growth seen while the block runs (sampled)."""
    result = {"peak": 0}
    baseline = resident_bytes()
    done = threading.Event()

    def sample():
        while not done.wait(0.002):
            result["peak"] = max(result["peak"], resident_bytes() - baseline)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        result["peak"] = max(result["peak"], resident_bytes() - baseline)


class StageProfile:
    """Wall time per pipeline stage, by wrapping the stage functions of our pipeline (benchmark only)."""

    def __init__(self):
        self.seconds = defaultdict(float)

    @contextmanager
    def attached(self, tracker: HandTracker):
        targets = [
            (tracker.detector, "preprocess", "detector pre"),
            (tracker.detector.model, "run", "detector inference"),
            (tracker.detector, "postprocess", "detector post"),
            (landmarks, "crop", "landmark pre (crops)"),
            (tracker.landmark_model.model, "run", "landmark inference"),
            (landmarks, "decode", "landmark post"),
            (tracker_module, "tracking_rects", "tracking (next crops)"),
        ]
        originals = [(owner, attribute, getattr(owner, attribute)) for owner, attribute, _ in targets]
        for owner, attribute, stage in targets:
            setattr(owner, attribute, self.timed(getattr(owner, attribute), stage))
        try:
            yield
        finally:
            for owner, attribute, original in originals:
                if owner in (landmarks, tracker_module):
                    setattr(owner, attribute, original)
                else:
                    delattr(owner, attribute)  # the instance attribute shadowed the class method

    def timed(self, function, stage: str):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start

        return wrapper


def run_ours(frames, max_hands, static, **options):
    with peak_memory() as memory:
        tracker = HandTracker(max_num_hands=max_hands, static_image_mode=static, **options)
        latencies, found = [], 0
        for frame in frames:
            start = time.perf_counter()
            found += len(tracker.process(frame))
            latencies.append(time.perf_counter() - start)
    return latencies, tracker.detector_runs / len(frames), memory["peak"], found, tracker.execution_provider


def profile_ours(frames, max_hands, static, **options) -> dict[str, float]:
    """Seconds per stage over one run of our pipeline."""
    profile = StageProfile()
    tracker = HandTracker(max_num_hands=max_hands, static_image_mode=static, **options)
    with profile.attached(tracker):
        start = time.perf_counter()
        for frame in frames:
            tracker.process(frame)
        total = time.perf_counter() - start
    profile.seconds["other (association, ids, glue)"] = total - sum(profile.seconds.values())
    return profile.seconds


def run_mediapipe(frames, max_hands, static):
    with peak_memory() as memory:
        hands = mediapipe_reference.mediapipe_hands(static, max_hands)
        latencies, found = [], 0
        for frame in frames:
            start = time.perf_counter()
            result = hands.process(frame)
            latencies.append(time.perf_counter() - start)
            found += len(result.multi_hand_landmarks or [])
        hands.close()
    # MediaPipe does not say how often its detector ran; "-" in the table.
    return latencies, None, memory["peak"], found, "TFLite XNNPACK (CPU)"


def summarize(latencies):
    seconds = np.array(latencies)
    return {"fps": len(seconds) / seconds.sum(), "median": np.median(seconds) * 1e3,
            "p99": np.percentile(seconds, 99) * 1e3}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=["one_hand", "hd_video", "two_hands"])
    parser.add_argument("--modes", nargs="+", default=["tracking", "static"], choices=["tracking", "static"])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each pipeline; the fastest counts")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    cases = load_cases(args.cases)
    rows = []
    stage_seconds = defaultdict(float)
    profiled_frames = 0
    for case, (frames, max_hands, decode_seconds) in cases.items():
        for mode in args.modes:
            static = mode == "static"
            best = {}
            for _ in range(args.repeat):
                # Alternate the two pipelines so that machine noise hits both alike.
                for name, runner in (("mediapipe", lambda: run_mediapipe(frames, max_hands, static)),
                                     ("ours", lambda: run_ours(frames, max_hands, static, device=args.device))):
                    latencies, runs, memory, found, provider = runner()
                    stats = summarize(latencies)
                    if name not in best or stats["fps"] > best[name][0]["fps"]:
                        best[name] = (stats, runs, memory, found, provider)
            for stage, seconds in profile_ours(frames, max_hands, static, device=args.device).items():
                stage_seconds[stage] += seconds
            stage_seconds["video decode"] += decode_seconds
            profiled_frames += len(frames)
            for name in ("mediapipe", "ours"):
                stats, runs, memory, found, provider = best[name]
                ratio = stats["fps"] / best["mediapipe"][0]["fps"]
                rows.append((case, mode, name, stats, runs, memory, found / len(frames), provider, ratio))

    header = (f"{'case':10} {'mode':8} {'pipeline':9} {'fps':>7} {'med ms':>7} {'p99 ms':>7} {'det/frame':>9} "
              f"{'peak MiB':>8} {'hands/frame':>11} {'x MediaPipe':>11}  provider")
    print(header)
    print("-" * len(header))
    for case, mode, name, stats, runs, memory, hands, provider, ratio in rows:
        detector_runs = "-" if runs is None else f"{runs:.2f}"
        print(f"{case:10} {mode:8} {name:9} {stats['fps']:7.1f} {stats['median']:7.2f} {stats['p99']:7.2f} "
              f"{detector_runs:>9} {memory / 2**20:8.1f} {hands:11.2f} {ratio:11.2f}  {provider}")

    print(f"\nWhere our time goes ({profiled_frames} frames, one extra profiled run per row):")
    total = sum(stage_seconds.values())
    for stage, seconds in sorted(stage_seconds.items(), key=lambda item: -item[1]):
        print(f"  {stage:24} {seconds / profiled_frames * 1e3:7.2f} ms/frame  {100 * seconds / total:5.1f}%")
    print(f"\n{os.cpu_count()} CPUs; onnxruntime {__import__('onnxruntime').__version__}; "
          f"mediapipe {__import__('mediapipe').__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
