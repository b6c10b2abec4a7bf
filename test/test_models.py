"""Model files: checksums, input/output contract, parity with the TFLite originals, clear errors."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import import_mediapipe, import_tflite_interpreter

from hand_tracking_ros.backend import OnnxModel
from hand_tracking_ros.models import (CHECKSUM_FILE, ENVIRONMENT_VARIABLE, HAND_LANDMARK, PALM_DETECTION,
                                      SHIPPED_SHA256, ModelFileError, default_dirs, find_model, load_model_bytes,
                                      read_checksums)
from hand_tracking_ros.tracker import HandTracker

REPO_MODELS = Path(__file__).resolve().parents[1] / "models"

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
    tflite = import_tflite_interpreter()
    mediapipe_dir = import_mediapipe().__path__[0]  # the wheel holds the TFLite originals
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
    # A name this package does not ship and no SHA256SUMS lists is loaded unchecked; onnxruntime refuses it.
    (tmp_path / "my_palm_detector.onnx").write_bytes(b"not an onnx model")
    with pytest.raises(ModelFileError, match="cannot load"):
        OnnxModel(*load_model_bytes("my_palm_detector.onnx", tmp_path), device="cpu")


def _copy_models(directory: Path, names=("palm_detection_lite.onnx", "hand_landmark_lite.onnx")) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(REPO_MODELS / name, directory / name)
    return directory


def _damage(path: Path) -> None:
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))


def test_shipped_digests_are_those_of_models_sha256sums():
    # Regenerating the models (tools/convert_models.py) rewrites models/SHA256SUMS: update SHIPPED_SHA256 too.
    assert read_checksums(REPO_MODELS / CHECKSUM_FILE) == SHIPPED_SHA256
    assert sorted(path.name for path in REPO_MODELS.glob("*.onnx")) == sorted(SHIPPED_SHA256)


def test_corrupt_model_without_sha256sums_is_detected(tmp_path):
    _copy_models(tmp_path)  # no SHA256SUMS in the folder: the digests the package ships apply
    _damage(tmp_path / "hand_landmark_lite.onnx")
    with pytest.raises(ModelFileError, match="hand_landmark_lite.onnx is corrupt.*ships"):
        HandTracker(model_complexity=0, models_dir=tmp_path)


def test_environment_variable_naming_a_folder_without_the_model_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(tmp_path))  # empty: the checkout's models must not be taken
    with pytest.raises(ModelFileError) as error:
        find_model("palm_detection_full.onnx")
    message = str(error.value)
    assert str(tmp_path) in message and ENVIRONMENT_VARIABLE in message and "has no palm_detection_full.onnx" in message
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(tmp_path / "missing"))
    with pytest.raises(ModelFileError, match="missing .*does not exist"):
        HandTracker()


def test_models_dir_argument_wins_over_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(tmp_path / "missing"))
    _copy_models(tmp_path / "mine")
    assert find_model("palm_detection_lite.onnx", tmp_path / "mine") == tmp_path / "mine" / "palm_detection_lite.onnx"
    with pytest.raises(ModelFileError, match="named by models_dir"):
        find_model("palm_detection_full.onnx", tmp_path / "mine")


@pytest.mark.parametrize("separator", ["  ", " *"], ids=["text", "binary"])
def test_sha256sums_in_text_and_binary_format_are_both_checked(tmp_path, separator):
    # A model of the user's own (a name the package does not ship): only its SHA256SUMS can vouch for it.
    shutil.copy(REPO_MODELS / "palm_detection_lite.onnx", tmp_path / "my_palm.onnx")
    digest = hashlib.sha256((tmp_path / "my_palm.onnx").read_bytes()).hexdigest()
    (tmp_path / CHECKSUM_FILE).write_text(f"{digest}{separator}my_palm.onnx\n")
    assert read_checksums(tmp_path / CHECKSUM_FILE) == {"my_palm.onnx": digest}
    assert load_model_bytes("my_palm.onnx", tmp_path)[0] == tmp_path / "my_palm.onnx"
    _damage(tmp_path / "my_palm.onnx")
    with pytest.raises(ModelFileError, match=f"my_palm.onnx is corrupt.*from {tmp_path / CHECKSUM_FILE}"):
        load_model_bytes("my_palm.onnx", tmp_path)


def test_own_conversion_under_a_shipped_name_is_vouched_for_by_its_sha256sums(tmp_path):
    # Another conversion of the lite landmark model: a different file under the shipped name, listed in the
    # folder's SHA256SUMS (as sha256sum -b writes it), loads; without that line it is refused.
    _copy_models(tmp_path)
    own = (tmp_path / "hand_landmark_lite.onnx").read_bytes() + b"\0"  # other bytes (the digest is all that counts)
    (tmp_path / "hand_landmark_lite.onnx").write_bytes(own)
    (tmp_path / CHECKSUM_FILE).write_text(f"{hashlib.sha256(own).hexdigest()} *hand_landmark_lite.onnx\n")
    assert load_model_bytes("hand_landmark_lite.onnx", tmp_path)[1] == own
    (tmp_path / CHECKSUM_FILE).write_text(f"{SHIPPED_SHA256['palm_detection_lite.onnx']} *palm_detection_lite.onnx\n")
    with pytest.raises(ModelFileError, match="corrupt.*SHA256SUMS beside it"):
        load_model_bytes("hand_landmark_lite.onnx", tmp_path)


@pytest.mark.parametrize("content, line, problem", [
    (b"%s  palm_detection_lite.onnx\nnot a checksum line\n", 2, "is not a `sha256sum` line"),
    (b"%s  palm_detection_lite.onnx\n\n\xff\xfe broken\n", 3, "not UTF-8"),
    (b"%s  palm_detection_lite.onnx\n" + b"0" * 64 + b"  palm_detection_lite.onnx\n", 2, "second, different"),
], ids=["malformed", "not-utf8", "conflicting"])
def test_unreadable_sha256sums_is_an_error_naming_file_and_line(tmp_path, content, line, problem):
    _copy_models(tmp_path)
    (tmp_path / CHECKSUM_FILE).write_bytes(content.replace(b"%s", SHIPPED_SHA256["palm_detection_lite.onnx"].encode()))
    with pytest.raises(ModelFileError) as error:
        HandTracker(model_complexity=0, models_dir=tmp_path)
    assert f"{tmp_path / CHECKSUM_FILE}, line {line}: " in str(error.value) and problem in str(error.value)


def _find_in_copy(package_parent: Path, env: dict) -> subprocess.CompletedProcess:
    """Import a copy of the package from ``package_parent`` in a fresh interpreter and look for a model."""
    shutil.copytree(Path(__file__).resolve().parents[1] / "hand_tracking_ros", package_parent / "hand_tracking_ros",
                    ignore=shutil.ignore_patterns("__pycache__", "msg"))
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import hand_tracking_ros.models as m; "
            "assert m.__file__.startswith(sys.argv[1]), m.__file__; print(m.find_model('palm_detection_lite.onnx'))")
    return subprocess.run([sys.executable, "-c", code, str(package_parent)], capture_output=True, text=True,
                          env=env, timeout=120)


def test_search_does_not_climb_parent_folders(tmp_path):
    # A copy in <ancestor>/share/hand_tracking_ros/models of a package that is not installed under
    # <ancestor> must not be taken (the old search climbed every parent of the package).
    env = {key: value for key, value in os.environ.items() if key not in (ENVIRONMENT_VARIABLE, "AMENT_PREFIX_PATH")}
    _copy_models(tmp_path / "share" / "hand_tracking_ros" / "models")
    stray = _find_in_copy(tmp_path / "some" / "folder", env)
    assert str(tmp_path / "share") not in stray.stdout + stray.stderr
    assert "ModelFileError" in stray.stderr or stray.stdout.strip().startswith(sys.prefix), stray.stderr[-2000:]


def test_search_finds_the_install_prefix_and_ament_prefix_path(tmp_path, monkeypatch):
    # pip and colcon put the package in <prefix>/lib/pythonX.Y/site-packages, the models in <prefix>/share.
    env = {key: value for key, value in os.environ.items() if key != ENVIRONMENT_VARIABLE}
    prefix = tmp_path / "install"
    _copy_models(prefix / "share" / "hand_tracking_ros" / "models")
    installed = _find_in_copy(prefix / "lib" / "python3.12" / "site-packages", env)
    assert installed.stdout.strip() == str(prefix / "share/hand_tracking_ros/models/palm_detection_lite.onnx"), (
        installed.stderr[-2000:])
    # A sourced ROS 2 install space: AMENT_PREFIX_PATH entries are searched after the package's own places.
    ament = tmp_path / "ament"
    monkeypatch.setenv("AMENT_PREFIX_PATH", os.pathsep.join(["/nonexistent/prefix", str(ament)]))
    assert default_dirs()[-2:] == [Path("/nonexistent/prefix/share/hand_tracking_ros/models"),
                                   ament / "share" / "hand_tracking_ros" / "models"]
