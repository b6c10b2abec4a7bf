"""Hand landmark model: rotated 224x224 crops of all hands in one batch, outputs projected to the image.

Decoding follows MediaPipe's hand_landmark_cpu.pbtxt (reference doc 1.5): landmarks come in crop pixels,
z is divided by 224 and by ``normalize_z`` 0.4, then everything is rotated and scaled back by the crop
rectangle (z by its width relative to the image width); world landmarks are only rotated.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

import cv2
import numpy as np

from .backend import OnnxModel
from .geometry import crop_matrices, landmarks_to_rects, project_from_crops, rotate, transform_rects

INPUT_SIZE = 224
NORMALIZE_Z = 0.4
# Landmarks -> next frame's crop (hand_landmark_landmarks_to_roi.pbtxt).
TRACKING_SHIFT_Y = -0.1
TRACKING_SCALE = 2.0
# Threads that cut crops when a frame has several hands. A 224x224 warp is too small for OpenCV to split
# over threads itself (about 0.3 ms, single-threaded), so crops are cut side by side instead; more than
# four does not pay on any batch the CPU path sees.
MAX_CROP_THREADS = 4


@dataclass
class LandmarkBatch:
    """Landmark model outputs for N crops, in image coordinates."""

    landmarks: np.ndarray        # (N, 21, 3) x, y pixels, z MediaPipe relative depth
    world_landmarks: np.ndarray  # (N, 21, 3) metres
    presence: np.ndarray         # (N,)
    right_hand: np.ndarray       # (N,) probability that the hand, as it appears in the image, is a right hand

    def replace_rows(self, rows: np.ndarray, other: LandmarkBatch, other_rows: np.ndarray) -> None:
        """Overwrite ``rows`` with ``other``'s ``other_rows`` (a second reading of the same crops)."""
        for item in fields(self):
            getattr(self, item.name)[rows] = getattr(other, item.name)[other_rows]


def crop(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """One 224x224 crop; replicated border like MediaPipe's ImageToTensor default."""
    return cv2.warpAffine(image, matrix, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def decode(raw_landmarks: np.ndarray, raw_world: np.ndarray, rects: np.ndarray, image_widths: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Project (N, 63) raw outputs of crops ``rects`` into image landmarks and rotated world landmarks."""
    crop_landmarks = raw_landmarks.reshape(-1, 21, 3) / INPUT_SIZE
    landmarks = np.empty_like(crop_landmarks)
    landmarks[..., :2] = project_from_crops(crop_landmarks[..., :2], rects)
    landmarks[..., 2] = crop_landmarks[..., 2] / NORMALIZE_Z * (rects[:, 2] / image_widths)[:, None]
    world = raw_world.reshape(-1, 21, 3).copy()
    world[..., :2] = rotate(world[..., :2], rects[:, 4])
    return landmarks.astype(np.float32), world.astype(np.float32)


def tracking_rects(landmarks: np.ndarray) -> np.ndarray:
    """Next frame's crops (N, 5) from this frame's landmarks (N, 21, >=2)."""
    return transform_rects(landmarks_to_rects(landmarks), TRACKING_SHIFT_Y, TRACKING_SCALE)


class LandmarkModel:
    """Runs the landmark model on crops of one or several images in a single inference call."""

    def __init__(self, model: OnnxModel, crop_threads: int = 0):
        self.model = model
        self.crop_threads = min(crop_threads or os.cpu_count() or 1, MAX_CROP_THREADS)  # 0: one per core
        # The caller's thread cuts crops too, so the pool has one thread fewer; none on one core.
        self._crop_pool = (ThreadPoolExecutor(self.crop_threads - 1, thread_name_prefix="hand-crops")
                           if self.crop_threads > 1 else None)

    def prepare(self, images: list[np.ndarray], image_indices: np.ndarray, rects: np.ndarray) -> np.ndarray:
        """The model's input batch (N, 3, 224, 224), float32 in [0, 1]: crop ``rects[i]`` of
        ``images[image_indices[i]]``, the crops cut in parallel (OpenCV and numpy release the GIL)."""
        matrices = crop_matrices(rects, INPUT_SIZE)
        batch = np.empty((len(rects), 3, INPUT_SIZE, INPUT_SIZE), np.float32)

        def fill(rows: np.ndarray) -> None:
            for row in rows:
                np.multiply(crop(images[image_indices[row]], matrices[row]).transpose(2, 0, 1), np.float32(1 / 255),
                            out=batch[row])

        chunks = np.array_split(np.arange(len(rects)), max(1, min(len(rects), self.crop_threads)))
        pending = [self._crop_pool.submit(fill, rows) for rows in chunks[1:]]
        fill(chunks[0])
        for job in pending:
            job.result()
        return batch

    def run(self, images: list[np.ndarray], image_indices: np.ndarray, rects: np.ndarray) -> LandmarkBatch:
        """Landmarks for crop ``rects[i]`` (pixels) of ``images[image_indices[i]]``, all in one batch."""
        raw_landmarks, presence, handedness, raw_world = self.model.run(self.prepare(images, image_indices, rects))
        widths = np.array([images[index].shape[1] for index in image_indices], np.float64)
        landmarks, world = decode(raw_landmarks, raw_world, rects, widths)
        return LandmarkBatch(landmarks, world, presence[:, 0].astype(np.float64), handedness[:, 0].astype(np.float64))
