#!/usr/bin/env python3
"""Reproduce models/*.onnx from the TFLite files inside the mediapipe==0.10.21 wheel.

Needs a separate environment (these are conversion tools, not runtime dependencies):

    python3 -m venv /tmp/convert && /tmp/convert/bin/pip install -r tools/convert-requirements.txt
    /tmp/convert/bin/python tools/convert_models.py            # writes models/*.onnx
    /tmp/convert/bin/python tools/convert_models.py --check    # converts and compares with models/SHA256SUMS

What the conversion does beyond tf2onnx's defaults, so that onnxruntime runs the models well:
* the input is NCHW (``--inputs-as-nchw``): the convolutions are NCHW in ONNX anyway, so tf2onnx's
  optimiser removes every layout transpose instead of adding one at the input;
* the batch dimension is symbolic (``batch``) and the palm detector's head reshapes copy it instead of
  hard-coding 1, so several crops or several cameras go through one inference call;
* tensors get names that say what they are instead of ``input_1`` / ``Identity_N``;
* PRelu becomes x + (1 - slope) * Relu(-x) as two depthwise 1x1 convolutions (``rewrite_prelu``), and the
  Pads that widen the palm detector's residual shortcuts become identity 1x1 convolutions
  (``rewrite_channel_pad``): the same functions, which onnxruntime's CPU then runs entirely in its blocked
  channel layout, 1.7x faster for the full palm detector.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import sys
import zipfile
from pathlib import Path

import numpy as np

MEDIAPIPE_VERSION = "0.10.21"
REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO_ROOT / "models"

# model name -> (path inside the mediapipe package, output tensor names in tflite order)
MODELS = {
    "palm_detection_full": ("modules/palm_detection/palm_detection_full.tflite", ("regressors", "scores")),
    "palm_detection_lite": ("modules/palm_detection/palm_detection_lite.tflite", ("regressors", "scores")),
    "hand_landmark_full": ("modules/hand_landmark/hand_landmark_full.tflite",
                           ("landmarks", "presence", "handedness", "world_landmarks")),
    "hand_landmark_lite": ("modules/hand_landmark/hand_landmark_lite.tflite",
                           ("landmarks", "presence", "handedness", "world_landmarks")),
}
TFLITE_OUTPUTS = ("Identity", "Identity_1", "Identity_2", "Identity_3")
OPSET = 13


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_tflite(relative_path: str, wheel: Path | None) -> bytes:
    if wheel is not None:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(f"mediapipe/{relative_path}")
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"mediapipe=={MEDIAPIPE_VERSION} is not installed; install it or pass --wheel")
    return (Path(spec.submodule_search_locations[0]) / relative_path).read_bytes()


def rewrite_prelu(graph) -> None:
    """Replace every PRelu(x, slope) by x + (1 - slope) * Relu(-x), the same function written as two
    per-channel (depthwise 1x1) convolutions: Conv(x, -1) with Relu, then Conv(., 1 - slope) added to x.

    onnxruntime's CPU runs convolutions, their fused Relu and the Add in its blocked channel layout (NCHWc),
    but PRelu, Min and Mul in plain NCHW, with a layout conversion on both sides of each. Written this way
    the palm detector stays in the blocked layout throughout (with ``rewrite_channel_pad``). The result
    equals PRelu exactly for x >= 0 and to float rounding (1 ulp) below. Max(x, slope * x) would be shorter
    but is wrong for the slopes below 0 or above 1 that these models have."""
    from onnx import helper, numpy_helper

    initializers = {initializer.name: initializer for initializer in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        x, y = node.input[0], node.output[0]
        slope = numpy_helper.to_array(initializers[node.input[1]]).reshape(-1)  # one per channel
        channels = len(slope)
        graph.initializer.extend([
            numpy_helper.from_array(np.full((channels, 1, 1, 1), -1, np.float32), f"{y}_negate"),
            numpy_helper.from_array((1 - slope).astype(np.float32).reshape(channels, 1, 1, 1), f"{y}_scale")])
        nodes += [helper.make_node("Conv", [x, f"{y}_negate"], [f"{y}_negated"], group=channels),
                  helper.make_node("Relu", [f"{y}_negated"], [f"{y}_negative_part"]),
                  helper.make_node("Conv", [f"{y}_negative_part", f"{y}_scale"], [f"{y}_correction"],
                                   group=channels),
                  helper.make_node("Add", [x, f"{y}_correction"], [y])]
    del graph.node[:]
    graph.node.extend(nodes)


def rewrite_channel_pad(model) -> None:
    """Replace every Pad that only appends zero channels (the palm detector's residual shortcuts, where a
    block widens) by a 1x1 convolution with identity weights: the same values exactly (x * 1 + 0 * ...), and
    one that onnxruntime runs in its blocked channel layout, whereas Pad sends the whole rest of the network
    back to plain NCHW."""
    from onnx import helper, numpy_helper, shape_inference

    graph = model.graph
    shapes = {value.name: [dim.dim_value for dim in value.type.tensor_type.shape.dim]
              for value in shape_inference.infer_shapes(model).graph.value_info}
    initializers = {initializer.name: initializer for initializer in graph.initializer}
    nodes = []
    for node in graph.node:
        pads = numpy_helper.to_array(initializers[node.input[1]]) if node.op_type == "Pad" else None
        # NCHW pads are [begin N, C, H, W, end N, C, H, W]; only "end C" may be non-zero.
        if pads is None or np.count_nonzero(np.delete(pads, 5)) or len(node.input) > 2:
            nodes.append(node)
            continue
        channels_in = shapes[node.input[0]][1]
        weight = np.zeros((channels_in + pads[5], channels_in, 1, 1), np.float32)
        weight[np.arange(channels_in), np.arange(channels_in)] = 1.0
        graph.initializer.append(numpy_helper.from_array(weight, f"{node.output[0]}_identity"))
        nodes.append(helper.make_node("Conv", [node.input[0], f"{node.output[0]}_identity"], list(node.output)))
    del graph.node[:]
    graph.node.extend(nodes)


def convert(tflite_bytes: bytes, output_names: tuple[str, ...], name: str):
    import tempfile

    import onnx
    import tf2onnx
    from onnx import numpy_helper

    with tempfile.TemporaryDirectory() as tmp:
        tflite_path = Path(tmp) / f"{name}.tflite"
        tflite_path.write_bytes(tflite_bytes)
        model, _ = tf2onnx.convert.from_tflite(str(tflite_path), opset=OPSET, inputs_as_nchw=["input_1"])

    graph = model.graph
    rewrite_prelu(graph)
    rewrite_channel_pad(model)
    renames = {"input_1": "input"}
    renames.update(zip(TFLITE_OUTPUTS, output_names))
    # tf2onnx numbers the tensors it creates with process-wide counters, so the same model converts to
    # different names from run to run: name every internal tensor and node by its position instead.
    # Initializers come out in a different order each run too: order and name them by first use.
    initializers = {initializer.name: initializer for initializer in graph.initializer}
    ordered_initializers = []
    for index, node in enumerate(graph.node):
        node.name = f"{node.op_type.lower()}_{index}"
        for value in node.input:
            if value in initializers and value not in renames:
                renames[value] = f"weight_{len(ordered_initializers)}"
                ordered_initializers.append(initializers[value])
        for output_index, value in enumerate(node.output):
            renames.setdefault(value, f"{node.name}_out{output_index}")
    for initializer in ordered_initializers:
        initializer.name = renames[initializer.name]
    del graph.initializer[:]
    graph.initializer.extend(ordered_initializers)
    del graph.value_info[:]
    for node in graph.node:
        node.input[:] = [renames.get(value, value) for value in node.input]
        node.output[:] = [renames.get(value, value) for value in node.output]
    for value_info in list(graph.input) + list(graph.output):
        value_info.name = renames.get(value_info.name, value_info.name)
        value_info.type.tensor_type.shape.dim[0].dim_param = "batch"

    # The head reshapes of the palm detector are [1, -1, C]; 0 copies the batch size from the input.
    initializers = {initializer.name: initializer for initializer in graph.initializer}
    for node in graph.node:
        if node.op_type == "Reshape" and node.input[1] in initializers:
            shape = numpy_helper.to_array(initializers[node.input[1]]).copy()
            if shape[0] == 1:
                shape[0] = 0
                initializers[node.input[1]].CopyFrom(numpy_helper.from_array(shape, node.input[1]))

    model.producer_name = "hand_tracking_ros tools/convert_models.py"
    model.producer_version = ""
    graph.doc_string = ""  # tf2onnx puts the temporary file's path here
    model.doc_string = (f"{name} from mediapipe=={MEDIAPIPE_VERSION} (Apache-2.0), "
                        f"tflite sha256 {sha256(tflite_bytes)}")
    onnx.checker.check_model(model)
    return model.SerializeToString()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, help="mediapipe wheel file to read (default: the installed package)")
    parser.add_argument("--output-dir", type=Path, default=MODELS_DIR)
    parser.add_argument("--check", action="store_true",
                        help="convert in memory and compare with models/SHA256SUMS instead of writing")
    args = parser.parse_args()

    expected = {}
    sums_file = MODELS_DIR / "SHA256SUMS"
    if args.check:
        for line in sums_file.read_text().splitlines():
            digest, file_name = line.split()
            expected[file_name] = digest

    sums = []
    mismatches = 0
    for name, (relative_path, output_names) in MODELS.items():
        tflite = read_tflite(relative_path, args.wheel)
        onnx_bytes = convert(tflite, output_names, name)
        file_name = f"{name}.onnx"
        digest = sha256(onnx_bytes)
        sums.append(f"{digest}  {file_name}")
        if args.check:
            status = "ok" if expected.get(file_name) == digest else "MISMATCH"
            mismatches += status != "ok"
            print(f"{file_name}: {status} ({digest})")
        else:
            args.output_dir.mkdir(parents=True, exist_ok=True)
            (args.output_dir / file_name).write_bytes(onnx_bytes)
            print(f"wrote {args.output_dir / file_name} ({len(onnx_bytes)} bytes, sha256 {digest}); "
                  f"source tflite sha256 {sha256(tflite)}")
    if not args.check:
        (args.output_dir / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
