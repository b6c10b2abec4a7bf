"""Model files: checksums, input/output contract, parity with the TFLite originals, clear errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from hand_tracking_ros.backend import OnnxModel
from hand_tracking_ros.models import (CHECKSUM_FILE, HAND_LANDMARK, PALM_DETECTION, ModelFileError, find_model,
                                      load_model_bytes)
from hand_tracking_ros.tracker import HandTracker

PALM_OUTPUTS = {"regressors": [2016, 18], "scores": [2016, 1]}
LANDMARK_OUTPUTS = {"landmarks": [63], "presence": [1], "handedness": [1], "world_landmarks": [63]}
CONTRACTS = {name: ([3, 192, 192], PALM_OUTPUTS) for name in PALM_DETECTION.values()}
CONTRACTS.update({name: ([3, 224, 224], LANDMARK_OUTPUTS) for name in HAND_LANDMARK.values()})
TFLITE_PATHS = {
    "palm_detection_full.onnx": "modules/palm_detection/palm_detection_full.tflite",
    "palm_detection_lite.onnx": "modules/palm_detection/palm_detection_lite.tflite",
    "hand_landmark_full.onnx": "modules/hand_landmark/hand_landmark_full.tflite",
    "hand_landmark_lite.onnx": "modules/hand_landmark/hand_landmark_lite.tflite",
}


@pytest.mark.parametrize("file_name", sorted(CONTRACTS))
def test_model_loads_with_checksum_and_io_contract(file_name):
    path, data = load_model_bytes(file_name)
    model = OnnxModel(path, data, device="cpu")
    input_shape, outputs = CONTRACTS[file_name]
    session_input = model.session.get_inputs()[0]
    assert session_input.name == "input"
    assert session_input.shape[0] == "batch" and list(session_input.shape[1:]) == input_shape
    assert {output.name: list(output.shape[1:]) for output in model.session.get_outputs()} == outputs
    # The batch dimension really is free: three inputs give three results.
    results = model.run(np.zeros([3] + input_shape, np.float32))
    assert all(result.shape[0] == 3 for result in results)


@pytest.mark.parametrize("file_name", sorted(CONTRACTS))
def test_onnx_matches_tflite_original(file_name):
    tflite = pytest.importorskip("tflite_runtime.interpreter", reason="tflite-runtime is not installed")
    mediapipe_dir = pytest.importorskip("mediapipe", reason="mediapipe (the TFLite originals) is not installed").__path__[0]
    interpreter = tflite.Interpreter(f"{mediapipe_dir}/{TFLITE_PATHS[file_name]}")
    interpreter.allocate_tensors()
    size = CONTRACTS[file_name][0][1]
    image = np.random.default_rng(7).random((1, size, size, 3), dtype=np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    expected = {detail["name"]: interpreter.get_tensor(detail["index"]) for detail in interpreter.get_output_details()}
    model = OnnxModel(*load_model_bytes(file_name), device="cpu")
    actual = model.run(image.transpose(0, 3, 1, 2).copy())
    # tflite names its outputs Identity, Identity_1, ... in the order our names follow.
    for index, result in enumerate(actual):
        reference = expected["Identity" if index == 0 else f"Identity_{index}"]
        np.testing.assert_allclose(result, reference, atol=1e-3, rtol=1e-3)


def test_missing_model_names_file_and_remedy(tmp_path):
    with pytest.raises(ModelFileError) as error:
        find_model("palm_detection_full.onnx", tmp_path)
    message = str(error.value)
    assert "palm_detection_full.onnx" in message and str(tmp_path) in message
    assert "convert_models.py" in message


def test_tracker_fails_fast_on_missing_models(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        HandTracker(models_dir=tmp_path)


def test_corrupt_model_is_detected_by_checksum(tmp_path):
    source = find_model("hand_landmark_lite.onnx").parent
    for name in ("palm_detection_lite.onnx", "hand_landmark_lite.onnx", CHECKSUM_FILE):
        shutil.copy(source / name, tmp_path / name)
    damaged = bytearray((tmp_path / "hand_landmark_lite.onnx").read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / "hand_landmark_lite.onnx").write_bytes(bytes(damaged))
    with pytest.raises(ModelFileError, match="corrupt.*hand_landmark_lite.onnx|hand_landmark_lite.onnx.*corrupt"):
        HandTracker(model_complexity=0, models_dir=tmp_path)


def test_unloadable_model_without_checksum_gives_clear_error(tmp_path):
    (tmp_path / "palm_detection_lite.onnx").write_bytes(b"not an onnx model")
    with pytest.raises(ModelFileError, match="cannot load"):
        OnnxModel(*load_model_bytes("palm_detection_lite.onnx", tmp_path), device="cpu")
