#!/usr/bin/env python3
"""Speed of this pipeline against MediaPipe 0.10.21 (mp.solutions.hands), side by side in one run.

Both run on the same decoded frames, one after the other, each run in a fresh child process of this one:
tracking and static mode, one hand (reaching_hand_640x360), a 1280x720 video (thumbs_up) and two hands (two
videos side by side). For each it prints frames per second, per-frame latency (median, p99), palm-detector
runs per frame, memory (growth of the resident set while the pipeline is built and run) and the ratio to
MediaPipe, then a profile of where our time goes per stage. "ours/det=1" is our pipeline with MediaPipe's
detector schedule (detection_interval=1). Run it on an otherwise idle machine: onnxruntime's thread pool,
like XNNPACK's, suffers more than proportionally when other processes take its cores.

    python benchmarks/speed.py                 # everything (a few minutes on 2 cores)
    python benchmarks/speed.py --cases one_hand --modes tracking --repeat 1
"""

from __future__ import annotations

import argparse
import ctypes
import multiprocessing
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


# Our pipeline with MediaPipe's detector schedule (detector on every frame while there is room for a hand),
# to show how much of the speed-up is the schedule and how much the implementation.
EVERY_FRAME = "ours/det=1"
PIPELINES = ("mediapipe", "ours", EVERY_FRAME)


def measure(pipeline: str, case: str, static: bool, device: str) -> dict:
    """Run one pipeline on one case in this (fresh, spawned) process: timings, detector runs, hands, and the
    memory the pipeline adds (peak resident set while it is built and run, over the resident set with the
    decoded frames alone)."""
    frames, max_hands, _ = load_cases([case])[case]
    # Hand the decoder's freed buffers back to the system, so that the baseline is the frames alone and
    # neither pipeline grows into memory the other could not.
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with peak_memory() as memory:
        if pipeline == "mediapipe":
            latencies, runs, found, provider = run_mediapipe(frames, max_hands, static)
        else:
            options = {"detection_interval": 1} if pipeline == EVERY_FRAME else {}
            latencies, runs, found, provider = run_ours(frames, max_hands, static, device=device, **options)
    return {**summarize(latencies), "runs": runs, "hands": found / len(frames), "provider": provider,
            "peak": memory["peak"]}


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_memory():
    """Yields a dict whose 'peak' becomes the largest growth of the resident set seen while the block runs."""
    result = {"peak": 0}
    baseline = resident_bytes()
    done = threading.Event()

    def sample():
        while not done.wait(0.005):
            result["peak"] = max(result["peak"], resident_bytes() - baseline)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        result["peak"] = max(result["peak"], resident_bytes() - baseline)


def measure_in_child(*arguments) -> dict:
    # A fresh process per run: peak memory belongs to one pipeline, and neither warms the other's caches.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(measure, arguments)


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
            (tracker.landmark_model, "prepare", "landmark pre (crops)"),
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
    tracker = HandTracker(max_num_hands=max_hands, static_image_mode=static, **options)
    latencies, found = [], 0
    for frame in frames:
        start = time.perf_counter()
        found += len(tracker.process(frame))
        latencies.append(time.perf_counter() - start)
    return latencies, tracker.detector_runs / len(frames), found, tracker.execution_provider


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
    hands = mediapipe_reference.mediapipe_hands(static, max_hands)
    latencies, found = [], 0
    for frame in frames:
        start = time.perf_counter()
        result = hands.process(frame)
        latencies.append(time.perf_counter() - start)
        found += len(result.multi_hand_landmarks or [])
    hands.close()
    # MediaPipe does not say how often its detector ran; "-" in the table.
    return latencies, None, found, "TFLite XNNPACK (CPU)"


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

    rows = []
    stage_seconds = defaultdict(float)
    profiled_frames = 0
    for case in args.cases:
        for mode in args.modes:
            static = mode == "static"
            best = {}
            for _ in range(args.repeat):
                # Alternate the two pipelines so that machine noise hits both alike; the fastest run counts.
                for pipeline in PIPELINES[:2] if static else PIPELINES:
                    result = measure_in_child(pipeline, case, static, args.device)
                    if pipeline not in best or result["fps"] > best[pipeline]["fps"]:
                        best[pipeline] = result
            frames, max_hands, decode_seconds = load_cases([case])[case]
            for stage, seconds in profile_ours(frames, max_hands, static, device=args.device).items():
                stage_seconds[stage] += seconds
            stage_seconds["video decode"] += decode_seconds
            profiled_frames += len(frames)
            for pipeline in best:
                rows.append((case, mode, pipeline, best[pipeline], best[pipeline]["fps"] / best["mediapipe"]["fps"]))

    header = (f"{'case':10} {'mode':8} {'pipeline':10} {'fps':>7} {'med ms':>7} {'p99 ms':>7} {'det/frame':>9} "
              f"{'+MiB':>6} {'hands/frame':>11} {'x MediaPipe':>11}  provider")
    print(header)
    print("-" * len(header))
    for case, mode, name, stats, ratio in rows:
        detector_runs = "-" if stats["runs"] is None else f"{stats['runs']:.2f}"
        print(f"{case:10} {mode:8} {name:10} {stats['fps']:7.1f} {stats['median']:7.2f} {stats['p99']:7.2f} "
              f"{detector_runs:>9} {stats['peak'] / 2**20:6.0f} {stats['hands']:11.2f} {ratio:11.2f}  "
              f"{stats['provider']}")

    print(f"\nWhere our time goes ({profiled_frames} frames, one extra profiled run per row):")
    total = sum(stage_seconds.values())
    for stage, seconds in sorted(stage_seconds.items(), key=lambda item: -item[1]):
        print(f"  {stage:24} {seconds / profiled_frames * 1e3:7.2f} ms/frame  {100 * seconds / total:5.1f}%")
    print(f"\n{os.cpu_count()} CPUs; onnxruntime {__import__('onnxruntime').__version__}; "
          f"mediapipe {__import__('mediapipe').__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
