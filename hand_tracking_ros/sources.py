"""Frames from an image, a folder of images, a video file or a camera, as RGB arrays."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class SourceError(RuntimeError):
    """The source cannot be opened."""


@dataclass
class Frame:
    index: int
    name: str | None          # file name for images, None for video and camera frames
    image_rgb: np.ndarray | None  # None when an image file could not be decoded
    timestamp: float | None   # seconds: video position, camera clock, None for still images
    error: str = ""


class FrameSource:
    """Iterate frames of SOURCE: an image file, a folder of images (sorted by name), a video file or a
    camera index such as ``0``."""

    def __init__(self, spec: str):
        self.spec = spec
        path = Path(spec)
        self.images: list[Path] = []
        self.capture = None
        if spec.isdigit() and not path.exists():
            self.kind = "camera"
            self.capture = cv2.VideoCapture(int(spec))
            if not self.capture.isOpened():
                raise SourceError(f"cannot open camera {spec}: is it connected and not used by another program?")
        elif path.is_dir():
            self.kind = "folder"
            self.images = sorted(child for child in path.iterdir() if child.suffix.lower() in IMAGE_SUFFIXES)
            if not self.images:
                raise SourceError(f"folder {path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        elif path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            self.kind = "image"
            self.images = [path]
        elif path.is_file():
            self.kind = "video"
            self.capture = cv2.VideoCapture(str(path))
            if not self.capture.isOpened():
                raise SourceError(f"cannot read {path} as a video or an image")
        else:
            raise SourceError(f"source {spec!r} is not an image, a folder, a video file or a camera index")

    @property
    def is_still(self) -> bool:
        return self.kind in ("image", "folder")

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
                bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if bgr is None:
                    yield Frame(index, path.name, None, None, f"cannot decode image {path}")
                else:
                    yield Frame(index, path.name, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), None)
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
