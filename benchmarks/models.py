#!/usr/bin/env python3
"""Inference time of each model alone, ours (onnxruntime, as the pipeline configures it) against the TFLite
originals with XNNPACK (what MediaPipe runs), same thread count. Random inputs: the time of these
all-convolution models does not depend on the values.

    python benchmarks/models.py
    python benchmarks/models.py --onnx old_palm.onnx   # also time another ONNX file (for example an
                                                       # earlier conversion: git show <commit>:models/...)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from hand_tracking_ros import backend  # noqa: E402
from hand_tracking_ros.models import HAND_LANDMARK, PALM_DETECTION, load_model_bytes  # noqa: E402

MEDIAPIPE_TFLITE = {
    "palm_detection_full": "modules/palm_detection/palm_detection_full.tflite",
    "hand_landmark_full": "modules/hand_landmark/hand_landmark_full.tflite",
}


def milliseconds_per_call(function, calls: int) -> float:
    for _ in range(max(10, calls // 10)):
        function()
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls * 1e3


def tflite_interpreter(name: str, threads: int):
    """The TFLite original with XNNPACK, or None where tflite-runtime or mediapipe is not installed."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or importlib.util.find_spec("tflite_runtime") is None:
        return None
    from tflite_runtime.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(Path(spec.submodule_search_locations[0]) / MEDIAPIPE_TFLITE[name]),
                              num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--onnx", type=Path, nargs="*", default=[], help="further ONNX files to time")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    models = [(name.removesuffix(".onnx"), *load_model_bytes(name)) for name in (PALM_DETECTION[1], HAND_LANDMARK[1])]
    models += [(path.name + " (--onnx)", path, path.read_bytes()) for path in args.onnx]
    print(f"{'model':44} {'runtime':22} {'batch':>5} {'ms per call':>11} {'ms per image':>12}")
    for name, path, model_bytes in models:
        model = backend.OnnxModel(path, model_bytes, device="cpu", threads=args.threads)
        for batch_size in (1, 2):
            batch = rng.random((batch_size, *model.input_shape), dtype=np.float32)
            ms = milliseconds_per_call(lambda: model.run(batch), args.calls)
            print(f"{name:44} {'onnxruntime (ours)':22} {batch_size:5d} {ms:11.2f} {ms / batch_size:12.2f}")
        interpreter = tflite_interpreter(name, args.threads) if name in MEDIAPIPE_TFLITE else None
        if interpreter is not None:
            details = interpreter.get_input_details()[0]
            image = rng.random(details["shape"], dtype=np.float32)

            def invoke():
                interpreter.set_tensor(details["index"], image)
                interpreter.invoke()

            ms = milliseconds_per_call(invoke, args.calls)
            print(f"{name:44} {'TFLite XNNPACK':22} {1:5d} {ms:11.2f} {ms:12.2f}")
    print(f"\n{args.threads} threads; onnxruntime {__import__('onnxruntime').__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
