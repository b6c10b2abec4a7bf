"""Frames from an image, a folder of images, a video file or a camera, as RGB arrays.

Only regular files are read: a FIFO, a device or a socket named like an image would block the reader
forever, so a folder's such entries are skipped like an undecodable image, with a reason."""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}

# Reasons a still image is skipped (Frame.reason): short, so that a run's summary can count them.
NOT_A_REGULAR_FILE = "not a regular file"
UNREADABLE = "unreadable"
EMPTY_FILE = "empty file"
UNDECODABLE = "cannot decode"


class SourceError(RuntimeError):
    """The source cannot be opened."""


@dataclass
class Frame:
    index: int
    name: str | None          # file name for images, None for video and camera frames
    image_rgb: np.ndarray | None  # None when an image file could not be read (reason and error say why)
    timestamp: float | None   # seconds: video position, camera clock, None for still images
    error: str = ""           # what went wrong, for a person: names the file
    reason: str = ""          # why it was skipped, one of the reasons above (for counting)

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"frame {self.index}"


def is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def read_image(path: Path, index: int) -> Frame:
    """The image at ``path`` as a frame, or a frame without image saying why it cannot be read."""
    try:
        # O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting for one, and
        # fstat on the open file sees what is read, even if the name was replaced since the folder was listed.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(descriptor, "rb") as file:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                return Frame(index, path.name, None, None, f"{path} is not a regular file", NOT_A_REGULAR_FILE)
            data = file.read()
    except OSError as error:
        return Frame(index, path.name, None, None, f"cannot read {path}: {error.strerror}", UNREADABLE)
    if not data:
        return Frame(index, path.name, None, None, f"{path} is empty", EMPTY_FILE)
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return Frame(index, path.name, None, None, f"cannot decode image {path}", UNDECODABLE)
    return Frame(index, path.name, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), None)


class FrameSource:
    """Iterate frames of SOURCE: an image file, a folder of images (sorted by name), a video file or a
    camera index such as ``0``."""

    def __init__(self, spec: str):
        self.spec = spec
        self.path: Path | None = None  # the file or folder read; None for a camera
        self.images: list[Path] = []
        self.capture = None
        path = Path(spec)
        try:
            exists = path.exists()
        except OSError as error:  # a name too long, a loop of symbolic links...
            raise SourceError(f"cannot open source {spec!r}: {error.strerror}") from error
        if spec.isascii() and spec.isdigit() and not exists:
            self.kind = "camera"
            try:
                self.capture = cv2.VideoCapture(int(spec))
            except (cv2.error, OverflowError) as error:  # more than a C int
                raise SourceError(f"camera index {spec} is out of range") from error
            if not self.capture.isOpened():
                raise SourceError(f"cannot open camera {spec}: is it connected and not used by another program?")
            return
        if not exists:
            raise SourceError(f"source {spec} does not exist")
        self.path = path
        if path.is_dir():
            self.kind = "folder"
            try:
                self.images = sorted(child for child in path.iterdir() if child.suffix.lower() in IMAGE_SUFFIXES)
            except OSError as error:
                raise SourceError(f"cannot list folder {path}: {error.strerror}") from error
            if not self.images:
                raise SourceError(f"folder {path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        elif not is_regular_file(path):
            raise SourceError(f"source {spec} is not a regular file, a folder or a camera index "
                              "(for a camera device such as /dev/video0 give its index: 0)")
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            self.kind = "image"
            self.images = [path]
        else:
            self.kind = "video"
            self.capture = cv2.VideoCapture(str(path))
            if not self.capture.isOpened():
                raise SourceError(f"cannot read {path} as a video or an image")

    @property
    def is_still(self) -> bool:
        return self.kind in ("image", "folder")

    @property
    def files(self) -> list[Path]:
        """The files this source reads (none for a camera): outputs must not overwrite them."""
        return self.images if self.is_still else [self.path] if self.path is not None else []

    @property
    def total(self) -> int | None:
        """Number of frames when known in advance (files), else None."""
        if self.is_still:
            return len(self.images)
        if self.kind == "video":
            count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
            return count if count > 0 else None
        return None

    @property
    def fps(self) -> float:
        rate = self.capture.get(cv2.CAP_PROP_FPS) if self.capture is not None else 0.0
        return rate if rate and rate > 0 else 30.0

    def __iter__(self) -> Iterator[Frame]:
        if self.is_still:
            for index, path in enumerate(self.images):
                yield read_image(path, index)
            return
        index = 0
        start = time.monotonic()
        try:
            while True:
                ok, bgr = self.capture.read()
                if not ok:
                    return
                if self.kind == "video":
                    timestamp = index / self.fps
                else:
                    timestamp = time.monotonic() - start
                yield Frame(index, None, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), timestamp)
                index += 1
        finally:
            self.capture.release()
