#!/usr/bin/env python3
"""CPU that onnxruntime's pool threads burn after a run has returned, with and without spinning.

onnxruntime keeps its intra-op pool threads spinning for tens of milliseconds after every run unless the
session stops them (hand_tracking_ros/backend.py sets ``session.intra_op.allow_spinning`` to 0). Between
camera frames that spin takes a core from the robot's other nodes. This measures it: each case builds the
landmark model with the pipeline's settings ("stop", what backend.OnnxModel builds) or with onnxruntime's
default ("default"), runs it on a real-sized batch, then sleeps and reads the CPU time the process used while
asleep. Each case runs in a fresh process (so no other pool's threads count), alternating, ``--repeats``
times; the table gives the median and the maximum. A timing, so a benchmark and not a unit test
(test/test_backend.py checks the setting itself).

    python benchmarks/idle_cpu.py [--runs 20] [--sleep 0.2] [--repeats 5] [--threads 0]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

from speed import cpu_description  # benchmarks/ is on sys.path when run as a script

REPO_ROOT = Path(__file__).resolve().parents[1]
CASES = ("stop", "default")

# Run in a child process: build the model, run it, sleep, print the CPU seconds spent while asleep.
CHILD = """
import sys, time
import numpy as np
sys.path.insert(0, {repo!r})
import onnxruntime
from hand_tracking_ros import backend
from hand_tracking_ros.models import HAND_LANDMARK, load_model_bytes
case, runs, sleep, threads = {case!r}, {runs}, {sleep}, {threads}
path, model_bytes = load_model_bytes(HAND_LANDMARK[1])
if case == "stop":
    session = backend.OnnxModel(path, model_bytes, device="cpu", threads=threads).session
else:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])
batch = np.random.default_rng(0).random((2, 3, 224, 224), dtype=np.float32)
for _ in range(runs):
    session.run(None, {{"input": batch}})
start = time.process_time()
time.sleep(sleep)
print(time.process_time() - start)
"""


def idle_cpu_seconds(case: str, runs: int, sleep: float, threads: int) -> float:
    script = CHILD.format(repo=str(REPO_ROOT), case=case, runs=runs, sleep=sleep, threads=threads)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    return float(result.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="model runs before the sleep (default 20)")
    parser.add_argument("--sleep", type=float, default=0.2, help="seconds asleep after the last run (default 0.2)")
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per case (default 5)")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads, 0: one per core (default)")
    args = parser.parse_args()

    measured = {case: [] for case in CASES}
    for _ in range(args.repeats):
        for case in CASES:
            measured[case].append(idle_cpu_seconds(case, args.runs, args.sleep, args.threads))
    print(f"CPU seconds used during {args.sleep} s asleep after {args.runs} runs of hand_landmark_full "
          f"(batch of 2), {args.repeats} processes per case")
    print(f"{'case':<40}{'median':>10}{'max':>10}")
    labels = {"stop": "allow_spinning=0 (ours)", "default": "onnxruntime default"}
    for case in CASES:
        print(f"{labels[case]:<40}{statistics.median(measured[case]):>10.4f}{max(measured[case]):>10.4f}")
    ratio = statistics.median(measured["default"]) / max(statistics.median(measured["stop"]), 1e-6)
    print(f"default / ours: {ratio:.0f}x")
    print(f"\n{cpu_description()}; {args.threads or 'default'} threads; "
          f"onnxruntime {__import__('onnxruntime').__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
