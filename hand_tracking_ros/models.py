"""Finding and verifying the ONNX model files, wherever the package was installed from.

Where a model file is looked for, in this order and nowhere else:

1. ``models_dir`` passed by the caller, else
2. the folder named by the ``HAND_TRACKING_MODELS_DIR`` environment variable. A folder named either way is
   a promise: it is the only place searched, and a file missing there is an error naming that folder (never
   a silent fall-back to another copy).
3. ``models/`` of the source checkout the package runs from (the folder beside the package that holds
   ``package.xml``; also an editable install and ``colcon build --symlink-install``, whose files resolve to
   the checkout);
4. ``share/hand_tracking_ros/models`` under the install prefix of the package (the prefix of the
   ``lib/pythonX.Y/site-packages`` it sits in, where ``pip install`` puts the data files of ``setup.py``
   and ``colcon build`` those of ``CMakeLists.txt``), then under ``sys.prefix``;
5. ``share/hand_tracking_ros/models`` under each entry of ``AMENT_PREFIX_PATH`` (sourced ROS 2 install
   spaces).

Every model is checked before it is loaded. The digest it must have comes from the ``SHA256SUMS`` beside it
when that file lists it (``sha256sum`` output, text ``<digest>  <name>`` or binary ``<digest> *<name>``
lines): a folder of your own conversions vouches for its files that way. Otherwise a file named like one
this package ships must have the digest in ``SHIPPED_SHA256``, so a damaged copy is an error even without a
``SHA256SUMS``; a file of another name that no ``SHA256SUMS`` lists is loaded unchecked. A ``SHA256SUMS``
that cannot be read is an error naming it and its bad line.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

PACKAGE_NAME = "hand_tracking_ros"
ENVIRONMENT_VARIABLE = "HAND_TRACKING_MODELS_DIR"
CHECKSUM_FILE = "SHA256SUMS"

PALM_DETECTION = {0: "palm_detection_lite.onnx", 1: "palm_detection_full.onnx"}
HAND_LANDMARK = {0: "hand_landmark_lite.onnx", 1: "hand_landmark_full.onnx"}
# The models in models/ (kept equal to models/SHA256SUMS by test/test_models.py).
SHIPPED_SHA256 = {
    "palm_detection_full.onnx": "ea9a8c2bc92af3862899a61b0a89165d52b4f5646bb2467b2b0cea0647425750",
    "palm_detection_lite.onnx": "83db837e510ebf55e7c02e4a1da17310ed9f9576ebd01c906f1cf8041daf622f",
    "hand_landmark_full.onnx": "13697bd4767078c3ce0135079962513c5d7f200a9b5c3df787f3c2018e9db2d0",
    "hand_landmark_lite.onnx": "91b84987be7e1bf6e02a993fb21c21071bef534d370481c23653ea7625a2fb61",
}

RESTORE_HINT = (
    "Restore it with `git checkout -- models/` in a source checkout, reinstall the package "
    "(pip install / colcon build), regenerate it with tools/convert_models.py, or point "
    f"{ENVIRONMENT_VARIABLE} at a folder that holds the models."
)
# One line of `sha256sum` output: the digest, a space, then " " (text mode) or "*" (binary mode), the name.
_CHECKSUM_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")


class ModelFileError(RuntimeError):
    """A model file is missing, corrupt or cannot be loaded, or its SHA256SUMS cannot be read."""


def explicit_dir(models_dir: str | os.PathLike | None = None) -> tuple[Path, str] | None:
    """The folder the user named (argument, else environment variable) and how it was named; None if none."""
    if models_dir is not None:
        return Path(models_dir), "models_dir"
    if os.environ.get(ENVIRONMENT_VARIABLE):
        return Path(os.environ[ENVIRONMENT_VARIABLE]), ENVIRONMENT_VARIABLE
    return None


def _install_prefix(package_dir: Path) -> Path | None:
    """``<prefix>`` of ``<prefix>/lib/pythonX.Y/site-packages/hand_tracking_ros`` (``Lib/site-packages`` on
    Windows, ``dist-packages`` on Debian); None when the package does not sit in such a folder."""
    site = package_dir.parent
    if site.name not in ("site-packages", "dist-packages"):
        return None
    lib = site.parent.parent if site.parent.name.startswith("python") else site.parent
    return lib.parent if lib.name.lower() in ("lib", "lib64") else None


def default_dirs() -> list[Path]:
    """The places searched when no folder is named, in order (see the module docstring)."""
    candidates = []
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "package.xml").is_file():
        candidates.append(checkout / "models")
    prefixes = [_install_prefix(Path(__file__).absolute().parent), Path(sys.prefix)]
    prefixes += [Path(entry) for entry in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if entry]
    candidates += [prefix / "share" / PACKAGE_NAME / "models" for prefix in prefixes if prefix is not None]
    return list(dict.fromkeys(candidates))  # each place once, in order


def find_model(file_name: str, models_dir: str | os.PathLike | None = None) -> Path:
    """Path of a model file; raises ModelFileError naming the places searched."""
    named = explicit_dir(models_dir)
    if named is not None:
        directory, source = named
        if (directory / file_name).is_file():
            return directory / file_name
        problem = "does not exist" if not directory.exists() else (
            "is not a folder" if not directory.is_dir() else f"has no {file_name}")
        raise ModelFileError(
            f"model file {file_name} not found: {directory} (named by {source}) {problem}. Copy the models "
            f"there (models/ of the repository, share/{PACKAGE_NAME}/models of an install, or regenerate them "
            f"with tools/convert_models.py), or drop {source} to use the ones the package ships.")
    searched = default_dirs()
    for directory in searched:
        if (directory / file_name).is_file():
            return directory / file_name
    places = ", ".join(str(directory) for directory in searched)
    raise ModelFileError(f"model file {file_name} not found; searched {places}. {RESTORE_HINT}")


def read_checksums(checksum_file: Path) -> dict[str, str]:
    """``{file name: sha256 hex digest}`` from a ``sha256sum`` output file (text or binary mode lines);
    raises ModelFileError naming the file and the line it cannot read."""
    checksums: dict[str, str] = {}
    try:
        lines = checksum_file.read_bytes().splitlines()
    except OSError as error:
        raise ModelFileError(f"cannot read {checksum_file}: {error.strerror or error}") from error
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError as error:
            raise ModelFileError(f"{checksum_file}, line {number}: not UTF-8 text ({error.reason} at byte "
                                 f"{error.start}); expected `<sha256> *<file name>` lines") from None
        if not line:
            continue
        match = _CHECKSUM_LINE.fullmatch(line)
        if match is None:
            raise ModelFileError(f"{checksum_file}, line {number}: {line[:80]!r} is not a `sha256sum` line "
                                 "(<64 hex digits>, then two spaces or ' *', then the file name)")
        digest, name = match.group(1).lower(), match.group(2)
        if checksums.get(name, digest) != digest:
            raise ModelFileError(f"{checksum_file}, line {number}: a second, different sha256 for {name}")
        checksums[name] = digest
    return checksums


def expected_checksum(path: Path) -> tuple[str, Path | None] | None:
    """The sha256 the model file at ``path`` must have, with the SHA256SUMS that lists it (None: the digest
    of the model this package ships under that name); None when nothing vouches for the file."""
    checksum_file = path.parent / CHECKSUM_FILE
    if checksum_file.is_file():
        listed = read_checksums(checksum_file).get(path.name)
        if listed is not None:
            return listed, checksum_file
    if path.name in SHIPPED_SHA256:
        return SHIPPED_SHA256[path.name], None
    return None


def load_model_bytes(file_name: str, models_dir: str | os.PathLike | None = None) -> tuple[Path, bytes]:
    """Find a model file, read it and check its sha256 (see the module docstring)."""
    path = find_model(file_name, models_dir)
    expected = expected_checksum(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelFileError(f"cannot read model file {path}: {error.strerror or error}") from error
    if expected is not None:
        digest, checksum_file = expected
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            source = (f"from {checksum_file}" if checksum_file is not None else
                      f"the {file_name} that {PACKAGE_NAME} ships; a model of your own needs its sha256 in a "
                      f"{CHECKSUM_FILE} beside it")
            raise ModelFileError(f"model file {path} is corrupt: sha256 {actual}, expected {digest} "
                                 f"({source}). {RESTORE_HINT}")
    return path, data
