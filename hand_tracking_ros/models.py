"""Finding and verifying the ONNX model files, wherever the package was installed from.

Search order for a model directory (the first that holds the file wins):
1. ``models_dir`` passed by the caller;
2. the ``HAND_TRACKING_MODELS_DIR`` environment variable;
3. ``models/`` next to the package in a source checkout (also an editable install or
   ``colcon build --symlink-install``, whose files resolve to the checkout);
4. ``share/hand_tracking_ros/models`` under any prefix above the installed package: a ROS 2 install space
   or a ``pip install`` (``setup.py`` installs the models there as data files).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PACKAGE_NAME = "hand_tracking_ros"
ENVIRONMENT_VARIABLE = "HAND_TRACKING_MODELS_DIR"
CHECKSUM_FILE = "SHA256SUMS"

PALM_DETECTION = {0: "palm_detection_lite.onnx", 1: "palm_detection_full.onnx"}
HAND_LANDMARK = {0: "hand_landmark_lite.onnx", 1: "hand_landmark_full.onnx"}

RESTORE_HINT = (
    "Restore it with `git checkout -- models/` in a source checkout, reinstall the package "
    "(pip install / colcon build), regenerate it with tools/convert_models.py, or point "
    f"{ENVIRONMENT_VARIABLE} at a folder that holds the models."
)


class ModelFileError(RuntimeError):
    """A model file is missing, corrupt or cannot be loaded."""


def candidate_dirs(models_dir: str | os.PathLike | None = None) -> list[Path]:
    candidates = []
    if models_dir is not None:
        candidates.append(Path(models_dir))
    if os.environ.get(ENVIRONMENT_VARIABLE):
        candidates.append(Path(os.environ[ENVIRONMENT_VARIABLE]))
    package_dir = Path(__file__).resolve().parent
    candidates.append(package_dir.parent / "models")
    for prefix in Path(__file__).absolute().parents:
        candidates.append(prefix / "share" / PACKAGE_NAME / "models")
    unique = []
    for candidate in candidates:
        if candidate not in unique:
            unique.append(candidate)
    return unique


def find_model(file_name: str, models_dir: str | os.PathLike | None = None) -> Path:
    """Path of a model file; raises ModelFileError naming the places searched."""
    searched = candidate_dirs(models_dir)
    if models_dir is not None:
        # An explicit folder is a promise: do not silently take another copy from elsewhere.
        searched = searched[:1]
    for directory in searched:
        if (directory / file_name).is_file():
            return directory / file_name
    places = "\n  ".join(str(directory) for directory in searched)
    raise ModelFileError(f"model file {file_name} not found; searched:\n  {places}\n{RESTORE_HINT}")


def expected_checksums(directory: Path) -> dict[str, str]:
    checksum_file = directory / CHECKSUM_FILE
    if not checksum_file.is_file():
        return {}
    checksums = {}
    for line in checksum_file.read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            checksums[name] = digest
    return checksums


def load_model_bytes(file_name: str, models_dir: str | os.PathLike | None = None) -> tuple[Path, bytes]:
    """Read a model file and check it against the SHA256SUMS that ships beside it."""
    path = find_model(file_name, models_dir)
    data = path.read_bytes()
    expected = expected_checksums(path.parent).get(file_name)
    if expected is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ModelFileError(
                f"model file {path} is corrupt: sha256 {actual}, expected {expected} "
                f"(from {path.parent / CHECKSUM_FILE}). {RESTORE_HINT}")
    return path, data
