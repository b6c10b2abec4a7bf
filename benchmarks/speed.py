#!/usr/bin/env python3
"""Speed of this pipeline against MediaPipe 0.10.21 (mp.solutions.hands), side by side in one run.

Tracking mode, full models, ``max_num_hands=2``, on one hand (reaching_hand_640x360.mp4) and two hands (that
video and thumbs_up_1280x720.mp4 scaled to 640x360, side by side: 1280x360), each played forwards and
backwards ``--loops`` times into one temporary video that both pipelines read. Two ways to run each:

- ``api``: the library in a fresh process, frames decoded beforehand; the loop over ``process()`` is timed:
  frames per second, CPU seconds per frame (user + system time of the whole process, every thread counted,
  during the loop) and latency per frame (median, p99).
- ``process``: the whole ``hand-tracking track VIDEO --output FILE`` command against a small script that
  does the same with MediaPipe (decode with OpenCV, ``Hands.process``, one JSON line per frame): frames per
  second from the process's wall time (start-up, model loading and decoding included) and its CPU time.

Each twice: ``idle`` (nothing else started by the benchmark) and ``loaded``, with one competing busy
process (a Python busy loop, same priority) that the benchmark starts before and kills after each run. The
pipelines alternate, ``--repeat`` times, and the fastest run of each counts. The table gives each figure of
ours as a ratio to MediaPipe's measured in the same run, with the CPU model and its vector extensions.
Nothing else on the machine is stopped: the load average printed with the table says how busy it was.

    python benchmarks/speed.py              # everything: 2 cases x idle/loaded x api/process, best of 2
    python benchmarks/speed.py --short      # a quick look: one pass of each video, one run each
    python benchmarks/speed.py --ours-flags "--threads 2"   # our pipeline with other options (CLI flags)
    python benchmarks/speed.py --profile    # also: where our time goes per stage (one extra in-process run)
    python benchmarks/speed.py --second-hand   # only: how long until a second hand entering the view is found

``--second-hand``: one hand is tracked (left half, reaching_hand) while a second one (right half, the same
video mirrored) appears for 40 frames, 12 times, after 30 to 52 frames without it (so that it arrives at
every phase of the detector schedule). For our schedules and MediaPipe's: frames from its arrival until it is reported (mean,
max) and palm-detector runs per frame while only the first hand is in view.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
sys.path.insert(0, str(REPO_ROOT))

ONE_HAND = "reaching_hand_640x360.mp4"
SECOND_HAND = "thumbs_up_1280x720.mp4"
CASES = ("one_hand", "two_hands")
PIPELINES = ("mediapipe", "ours")
RUNNERS = ("api", "process")
LOADS = ("idle", "loaded")
MAX_HANDS = 2
# A busy loop at our priority, that ends by itself when the benchmark does (even killed, without its finally).
BUSY_LOOP = """
import os
parent = os.getppid()
while os.getppid() == parent:
    for _ in range(1_000_000):
        pass
"""
VECTOR_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def video_frames(path: Path) -> Iterator[np.ndarray]:
    """The BGR frames of a video, one by one (OpenCV alone: FrameSource would import our pipeline into
    MediaPipe's measured process)."""
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                return
            yield bgr
    finally:
        capture.release()


def read_video(path: Path, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """BGR frames of a video, resized to ``size`` if given."""
    frames = [bgr if size is None else cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
              for bgr in video_frames(path)]
    if not frames:
        raise SystemExit(f"cannot read {path}; the benchmark needs ../shared/data beside the checkout")
    return frames


def write_case_video(case: str, loops: int, folder: Path) -> Path:
    """The case's frames played forwards and backwards ``loops`` times (no jump between passes), as an
    .mp4 both pipelines read."""
    frames = read_video(DATA_DIR / "videos" / ONE_HAND)
    if case == "two_hands":
        second = read_video(DATA_DIR / "videos" / SECOND_HAND, size=frames[0].shape[1::-1])
        count = min(len(frames), len(second))
        frames = [np.hstack([left, right]) for left, right in zip(frames[:count], second[:count])]
    passes = [frames if index % 2 == 0 else frames[::-1] for index in range(loops)]
    return write_video(folder / f"{case}.mp4", [frame for one_pass in passes for frame in one_pass], 25.0)


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """BGR frames (all of one size) as an MPEG-4 .mp4."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def cpu_description() -> str:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    present = [flag for flag in VECTOR_FLAGS if flag in flags]
    return (f"{model}, {os.cpu_count()} CPUs; vector extensions: {', '.join(present) or 'none of AVX2/AVX-512'}"
            f"{'' if 'avx512f' in flags else ' (no AVX-512)'}")


# ---- what runs in the measured processes ------------------------------------------------------------------

def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def api_child(pipeline: str, video: Path, ours_flags: list[str]) -> dict:
    """Run one pipeline through its Python API over the decoded frames of ``video`` (in this process)."""
    frames = [cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) for frame in read_video(video)]
    process, close, provider = build_pipeline(pipeline, ours_flags)
    latencies, hands = [], 0
    start_cpu, start = cpu_seconds(), time.perf_counter()
    for index, frame in enumerate(frames):
        begin = time.perf_counter()
        hands += process(frame, index / 25.0)
        latencies.append(time.perf_counter() - begin)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
    detector_runs = close()
    return {"fps": len(frames) / wall, "cpu_ms": cpu / len(frames) * 1e3,
            "median_ms": float(np.median(latencies) * 1e3), "p99_ms": float(np.percentile(latencies, 99) * 1e3),
            "hands": hands / len(frames), "detector": None if detector_runs is None else detector_runs / len(frames),
            "provider": provider}


def build_pipeline(pipeline: str, ours_flags: list[str]):
    """(process(frame, timestamp) -> hand count, close() -> detector runs or None, provider)."""
    if pipeline == "mediapipe":
        import mediapipe_reference  # benchmarks/ is on sys.path when run as a script

        hands = mediapipe_reference.mediapipe_hands(False, MAX_HANDS)

        def close_mediapipe():
            hands.close()
            return None  # MediaPipe does not say how often its detector ran

        return (lambda frame, _: len(hands.process(frame).multi_hand_landmarks or []), close_mediapipe,
                "TFLite XNNPACK")
    tracker = our_tracker(ours_flags)
    return (lambda frame, timestamp: len(tracker.process(frame, timestamp)), lambda: tracker.detector_runs,
            tracker.execution_provider)


def our_tracker(ours_flags: list[str]):
    from hand_tracking_ros.cli import add_tracker_arguments, tracker_from_arguments

    parser = argparse.ArgumentParser(prog="--ours-flags")
    add_tracker_arguments(parser)
    return tracker_from_arguments(parser.parse_args([f"--max-hands={MAX_HANDS}", *ours_flags]))


def mediapipe_track(video: Path, output: Path) -> None:
    """MediaPipe's counterpart of ``hand-tracking track VIDEO --output FILE``: one JSON line per frame."""
    import mediapipe_reference

    with mediapipe_reference.mediapipe_hands(False, MAX_HANDS) as hands, open(output, "w") as out:
        for index, bgr in enumerate(video_frames(video)):
            result = hands.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            found = mediapipe_reference.to_arrays(result, bgr.shape[1], bgr.shape[0])
            out.write(json.dumps({"frame": index, "hands": [
                {"landmarks": hand["landmarks"].round(2).tolist(), "handedness": hand["handedness"],
                 "score": hand["score"]} for hand in found]}) + "\n")


# ---- the parent: starting, loading and timing the measured processes --------------------------------------

@contextmanager
def competing_load(loaded: bool):
    """One busy process at our priority while the block runs (nothing when not ``loaded``)."""
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) if loaded else None
    try:
        yield
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()


def run_timed(command: list[str]) -> tuple[float, str]:
    """(wall seconds, standard output) of one command; its CPU time is in RUSAGE_CHILDREN once it ends."""
    start = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed ({process.returncode}):\n{process.stderr[-2000:]}")
    return wall, process.stdout


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(runner: str, pipeline: str, video: Path, frames: int, loaded: bool, ours_flags: list[str],
            folder: Path) -> dict:
    script = [sys.executable, str(Path(__file__).resolve())]
    if runner == "api":
        command = [*script, "--api-child", pipeline, str(video), "--ours-flags", shlex.join(ours_flags)]
    elif pipeline == "mediapipe":
        command = [*script, "--mediapipe-track", str(video), str(folder / "mediapipe.jsonl")]
    else:
        command = [sys.executable, "-m", "hand_tracking_ros.cli", "track", str(video), "--output",
                   str(folder / "ours.jsonl"), f"--max-hands={MAX_HANDS}", *ours_flags]
    with competing_load(loaded):
        before = children_cpu_seconds()  # the busy process is reaped after this, so it is not counted
        wall, stdout = run_timed(command)
        process_cpu = children_cpu_seconds() - before
    if runner == "api":
        return json.loads(stdout.strip().splitlines()[-1])
    result = {"fps": frames / wall, "cpu_ms": process_cpu / frames * 1e3, "median_ms": None, "p99_ms": None,
              "hands": None, "detector": None, "provider": "-"}
    lines = (folder / f"{pipeline}.jsonl").read_text().splitlines()
    result["hands"] = sum(len(json.loads(line)["hands"]) for line in lines) / frames
    return result


def profile_stages(video: Path, ours_flags: list[str]) -> dict[str, float]:
    """Milliseconds per frame per stage of our pipeline over ``video``, by wrapping the stage functions."""
    from hand_tracking_ros import landmarks
    from hand_tracking_ros import tracker as tracker_module

    frames = [cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) for frame in read_video(video)]
    tracker = our_tracker(ours_flags)
    seconds = defaultdict(float)

    def timed(function, stage):
        def wrapper(*args, **kwargs):
            begin = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[stage] += time.perf_counter() - begin
        return wrapper

    targets = [(tracker.detector, "detect", "palm detector (all)"),
               (tracker.detector.model, "run", "palm detector inference"),
               (tracker.landmark_model, "prepare", "landmark crops"),
               (tracker.landmark_model.model, "run", "landmark inference"),
               (landmarks, "decode", "landmark decoding"),
               (tracker_module, "tracking_rects", "next crops"),
               (tracker, "_finish_hands", "smoothing, handedness, gestures")]
    for owner, attribute, stage in targets:
        setattr(owner, attribute, timed(getattr(owner, attribute), stage))
    start = time.perf_counter()
    for index, frame in enumerate(frames):
        tracker.process(frame, index / 25.0)
    total = time.perf_counter() - start
    seconds["palm detector pre/post"] = seconds.pop("palm detector (all)") - seconds["palm detector inference"]
    seconds["other (association, ids, glue)"] = total - sum(seconds.values())
    return {stage: value / len(frames) * 1e3 for stage, value in seconds.items()}


SECOND_HAND_GAPS = range(30, 54, 2)  # frames without the second hand before each of its arrivals
SECOND_HAND_FRAMES = 40              # frames it stays
SCHEDULES = {"ours, adaptive (default)": [], "ours, fixed detection_interval 3": ["--max-detection-interval", "3"],
             "ours, every frame (det=1)": ["--detection-interval", "1"]}


def second_hand_frames() -> tuple[list[np.ndarray], list[int], np.ndarray]:
    """RGB frames, the frame indices where the second hand arrives, and a mask of one-hand frames. The
    second hand is reaching_hand mirrored (the palm detector finds that hand on every frame; thumbs_up's,
    at half size beside it, only now and then, which would measure the detector rather than the schedule)."""
    first = read_video(DATA_DIR / "videos" / ONE_HAND)
    first = first + first[::-1]
    second = [cv2.flip(frame, 1) for frame in first[60:60 + SECOND_HAND_FRAMES]]
    blank = np.zeros_like(second[0])
    frames, arrivals = [], []
    for gap in SECOND_HAND_GAPS:
        frames += [blank] * gap
        arrivals.append(len(frames))
        frames += second
    one_hand = np.array([frame is blank for frame in frames])
    frames = [cv2.cvtColor(np.hstack([first[index % len(first)], right]), cv2.COLOR_BGR2RGB)
              for index, right in enumerate(frames)]
    return frames, arrivals, one_hand


def second_hand_delays(pipeline: str, flags: list[str]) -> dict:
    frames, arrivals, one_hand = second_hand_frames()
    if pipeline == "mediapipe":
        import mediapipe_reference

        hands = mediapipe_reference.mediapipe_hands(False, MAX_HANDS)
        counts = [len(hands.process(frame).multi_hand_landmarks or []) for frame in frames]
        hands.close()
        detector = None
    else:
        tracker, counts, runs = our_tracker(flags), [], []
        for index, frame in enumerate(frames):
            before = tracker.detector_runs
            counts.append(len(tracker.process(frame, index / 25.0)))
            runs.append(tracker.detector_runs - before)
        detector = float(np.mean(np.array(runs)[one_hand]))
    delays = []
    for arrival in arrivals:
        found = [offset for offset in range(SECOND_HAND_FRAMES) if counts[arrival + offset] >= 2]
        delays.append(found[0] if found else None)
    missed = sum(delay is None for delay in delays)
    found = [delay for delay in delays if delay is not None]
    return {"mean": float(np.mean(found)) if found else None, "max": max(found) if found else None,
            "missed": missed, "arrivals": len(arrivals), "detector": detector}


def print_second_hand(ours_flags: list[str]) -> None:
    print(f"{'schedule':34} {'frames until found: mean':>24} {'max':>4} {'missed':>7} {'det/frame, one hand':>20}")
    for name, flags in {"MediaPipe": None, **SCHEDULES}.items():
        result = second_hand_delays("mediapipe" if flags is None else "ours", [*ours_flags, *(flags or [])])
        print(f"{name:34} {number_text(result['mean'], 2):>24} {number_text(result['max'], 0):>4} "
              f"{result['missed']:>3} of {result['arrivals']} {number_text(result['detector'], 3):>20}")
    print("\n(25 fps: 1 frame = 40 ms; a hand reported on the frame it arrives on: 0 frames.)")


def ratio_text(ours, theirs, digits=2) -> str:
    return "-" if ours is None or theirs is None else f"{ours / theirs:.{digits}f}"


def number_text(value, digits=1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="one pass of each video, one run of each (--loops 1 "
                                                             "--repeat 1)")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--runners", nargs="+", default=list(RUNNERS), choices=RUNNERS)
    parser.add_argument("--loads", nargs="+", default=list(LOADS), choices=LOADS)
    parser.add_argument("--loops", type=int, default=4, help="passes over each video, alternately forwards and "
                                                             "backwards (default 4: 808 frames)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each pipeline, alternated; the fastest counts")
    parser.add_argument("--ours-flags", default="", help="hand-tracking track flags for our pipeline, in both "
                                                         "runners, e.g. \"--threads 2 --detection-interval 1\"")
    parser.add_argument("--profile", action="store_true", help="also print where our time goes per stage")
    parser.add_argument("--second-hand", action="store_true", help="only measure how long until a second hand "
                                                                   "is found, for each detector schedule")
    parser.add_argument("--api-child", nargs=2, metavar=("PIPELINE", "VIDEO"), help=argparse.SUPPRESS)
    parser.add_argument("--mediapipe-track", nargs=2, metavar=("VIDEO", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    ours_flags = shlex.split(args.ours_flags)
    if args.api_child:
        print(json.dumps(api_child(args.api_child[0], Path(args.api_child[1]), ours_flags)))
        return 0
    if args.mediapipe_track:
        mediapipe_track(Path(args.mediapipe_track[0]), Path(args.mediapipe_track[1]))
        return 0
    if args.second_hand:
        print(f"CPU: {cpu_description()}\n")
        print_second_hand(ours_flags)
        return 0
    loops, repeat = (1, 1) if args.short else (args.loops, args.repeat)
    load_before = os.getloadavg()

    rows = []
    with tempfile.TemporaryDirectory(prefix="hand_tracking_speed_") as folder_name:
        folder = Path(folder_name)
        for case in args.cases:
            video = write_case_video(case, loops, folder)
            frames = int(cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT))
            for runner in args.runners:
                for load in args.loads:
                    best = {}
                    for _ in range(repeat):
                        for pipeline in PIPELINES:  # alternated, so machine noise hits both alike
                            result = measure(runner, pipeline, video, frames, load == "loaded", ours_flags, folder)
                            if pipeline not in best or result["fps"] > best[pipeline]["fps"]:
                                best[pipeline] = result
                    rows.append((case, frames, runner, load, best))
            if args.profile:
                rows.append((case, frames, "profile", "idle", profile_stages(video, ours_flags)))

    print(f"CPU: {cpu_description()}")
    print(f"onnxruntime {__import__('onnxruntime').__version__}, mediapipe {__import__('mediapipe').__version__}, "
          f"Python {platform.python_version()}; ours: hand-tracking track {shlex.join(ours_flags) or '(defaults)'}")
    print(f"load average (1, 5, 15 min) before: {' '.join(f'{value:.2f}' for value in load_before)}, after: "
          f"{' '.join(f'{value:.2f}' for value in os.getloadavg())} (other processes on this machine were not "
          "stopped)\n")
    header = (f"{'case':9} {'runner':7} {'load':6} | {'MP fps':>6} {'ours fps':>8} {'x MP':>5} | "
              f"{'MP CPU ms':>9} {'ours CPU ms':>11} {'/ MP':>5} | {'MP med/p99 ms':>13} {'ours med/p99 ms':>15} | "
              f"{'hands MP/ours':>13} {'det/frame':>9}")
    print(header)
    print("-" * len(header))
    for case, frames, runner, load, best in rows:
        if runner == "profile":
            continue
        theirs, ours = best["mediapipe"], best["ours"]
        latency = {name: "-" if stats["median_ms"] is None else f"{stats['median_ms']:.1f}/{stats['p99_ms']:.1f}"
                   for name, stats in best.items()}
        print(f"{case:9} {runner:7} {load:6} | {theirs['fps']:6.1f} {ours['fps']:8.1f} "
              f"{ratio_text(ours['fps'], theirs['fps']):>5} | {theirs['cpu_ms']:9.1f} {ours['cpu_ms']:11.1f} "
              f"{ratio_text(ours['cpu_ms'], theirs['cpu_ms']):>5} | {latency['mediapipe']:>13} {latency['ours']:>15} | "
              f"{number_text(theirs['hands'], 2) + '/' + number_text(ours['hands'], 2):>13} "
              f"{number_text(ours['detector'], 2):>9}")
    print(f"\nframes: {', '.join(sorted({f'{case} {frames}' for case, frames, *_ in rows}))}. x MP: our fps over "
          "MediaPipe's; / MP: our CPU seconds per frame over MediaPipe's. api: the loop over process() in one "
          "process; process: the whole command, start-up included.")
    for case, _, runner, _, stages in rows:
        if runner == "profile":
            print(f"\nWhere our time goes, {case}, idle, ms per frame:")
            for stage, milliseconds in sorted(stages.items(), key=lambda item: -item[1]):
                print(f"  {stage:34} {milliseconds:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
