"""Our message types in a ``rosbags`` type store, for reading and writing bags without a ROS install.

The types are registered from our own ``msg/*.msg`` files, the same files rosidl builds the node's
messages from, so the bag's message definitions and hashes match what a ROS 2 build publishes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np
from rosbags.interfaces import Nodetype
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from . import ros_conversions

PACKAGE = "hand_tracking_ros"
DISTROS = {"humble": Stores.ROS2_HUMBLE, "jazzy": Stores.ROS2_JAZZY}

_NUMPY_TYPES = {
    "bool": np.bool_, "byte": np.uint8, "char": np.uint8, "int8": np.int8, "uint8": np.uint8,
    "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32, "int64": np.int64,
    "uint64": np.uint64, "float32": np.float32, "float64": np.float64,
}


def msg_dir_candidates() -> list[Path]:
    """Where our .msg files may be: the source checkout, then ``share/hand_tracking_ros/msg`` of this
    Python's prefix (pip data files) and of every ROS prefix (rosidl installs them there)."""
    prefixes = [sys.prefix, *os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)]
    return [Path(__file__).resolve().parents[1] / "msg",
            *(Path(prefix) / "share" / PACKAGE / "msg" for prefix in prefixes if prefix)]


def find_msg_dir() -> Path:
    for candidate in msg_dir_candidates():
        if (candidate / "HandLandmarks.msg").is_file():
            return candidate
    searched = "\n  ".join(str(path) for path in msg_dir_candidates())
    raise FileNotFoundError(
        f"hand_tracking_ros message definitions (HandLandmarks.msg) not found; searched:\n  {searched}\n"
        "Reinstall the package, or run from a source checkout that has msg/.")


def load_message_types(msg_dir: Path | None = None) -> dict:
    """Parse our .msg files into rosbags type definitions, keyed ``hand_tracking_ros/msg/<Name>``."""
    msg_dir = find_msg_dir() if msg_dir is None else msg_dir
    types: dict = {}
    for path in sorted(msg_dir.glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(encoding="utf-8"), f"{PACKAGE}/msg/{path.stem}"))
    return types


def make_typestore(distro: str = "jazzy", msg_dir: Path | None = None) -> Typestore:
    """The distro's standard message types plus ours."""
    if distro not in DISTROS:
        raise ValueError(f"unknown ROS distro {distro!r}; known: {', '.join(DISTROS)}")
    typestore = get_typestore(DISTROS[distro])
    typestore.register(load_message_types(msg_dir))
    return typestore


def default_message(typestore: Typestore, typename: str) -> Any:
    """A message with every field zero, empty or default-constructed, as ROS builds one (except the
    non-zero defaults some .msg files declare, such as Quaternion.w = 1: rosbags does not keep them)."""
    return typestore.types[typename](**_default_fields(typestore, typename))


def _default_fields(typestore: Typestore, typename: str) -> dict[str, Any]:
    return {name: _default_value(typestore, desc) for name, desc in typestore.fielddefs[typename][1]}


def _default_value(typestore: Typestore, desc: tuple) -> Any:
    nodetype, args = desc
    if nodetype == Nodetype.BASE:
        base = args[0]
        return "" if base in ("string", "wstring") else False if base == "bool" else \
            0.0 if base.startswith("float") else 0
    if nodetype == Nodetype.NAME:
        return default_message(typestore, args)
    element, length = args
    length = length if nodetype == Nodetype.ARRAY else 0
    # rosbags holds numeric arrays and sequences as numpy arrays, everything else as lists.
    if element[0] == Nodetype.BASE and element[1][0] in _NUMPY_TYPES:
        return np.zeros(length, _NUMPY_TYPES[element[1][0]])
    return [_default_value(typestore, element) for _ in range(length)]


class _Constructor:
    """Builds a rosbags message from keyword arguments for any subset of its fields, like rclpy does;
    class constants (``Marker.DELETEALL``) are read through."""

    def __init__(self, typestore: Typestore, typename: str) -> None:
        self._typestore = typestore
        self._typename = typename
        self._type = typestore.types[typename]

    def __call__(self, **fields: Any) -> Any:
        fielddefs = self._typestore.fielddefs[self._typename][1]
        unknown = fields.keys() - {name for name, _ in fielddefs}
        if unknown:
            raise TypeError(f"{self._typename} has no field(s) {', '.join(sorted(unknown))}")
        return self._type(**{name: fields[name] if name in fields else _default_value(self._typestore, desc)
                             for name, desc in fielddefs})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._type, name)


def message_namespace(typestore: Typestore) -> SimpleNamespace:
    """The ``msgs`` namespace of ``ros_conversions`` for this type store."""
    return ros_conversions.message_namespace(partial(_Constructor, typestore))
