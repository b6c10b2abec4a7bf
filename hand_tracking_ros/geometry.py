"""Rotated-rectangle geometry of the MediaPipe hand pipeline, vectorized over rectangles.

Rectangles are float64 arrays of shape (N, 5): centre x, centre y, width, height (pixels) and rotation
(radians, clockwise on screen because y points down). The formulas follow MediaPipe's calculators
(``detections_to_rects``, ``rect_transformation``, ``hand_landmarks_to_rect``,
``landmark_projection``, ``image_to_tensor``) so that crops land on the same pixels as MediaPipe's.
"""

from __future__ import annotations

import numpy as np

from .types import RotatedRect

# Hand landmarks that define the tracking crop: wrist, thumb CMC/MCP/IP, and MCP + PIP of the four fingers.
# Fingertips and DIPs are left out so the crop does not jump when the fingers move
# (MediaPipe hand_landmarks_to_rect_calculator.cc, kPartialLandmarkIndices).
TRACKING_LANDMARKS = np.array([0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18])


def normalize_radians(angle: np.ndarray) -> np.ndarray:
    """Wrap angles to [-pi, pi)."""
    return angle - 2 * np.pi * np.floor((angle + np.pi) / (2 * np.pi))


def rotation_to_vertical(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Rotation that turns the vector start->end (pixels, (N, 2)) to point up in the crop."""
    return normalize_radians(np.pi / 2 - np.arctan2(-(end[:, 1] - start[:, 1]), end[:, 0] - start[:, 0]))


def rotate(vectors: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotate (N, ..., 2) vectors by (N,) angles (clockwise on screen)."""
    cos = np.cos(angles).reshape(-1, *([1] * (vectors.ndim - 2)))
    sin = np.sin(angles).reshape(-1, *([1] * (vectors.ndim - 2)))
    x, y = vectors[..., 0], vectors[..., 1]
    return np.stack([cos * x - sin * y, sin * x + cos * y], axis=-1)


def transform_rects(rects: np.ndarray, shift_y: float, scale: float) -> np.ndarray:
    """MediaPipe's RectTransformationCalculator with square_long: shift along the rotated y axis by
    ``shift_y`` times the height, make square on the long side, then scale."""
    rects = np.array(rects, np.float64, copy=True)
    offset = rotate(np.stack([np.zeros(len(rects)), rects[:, 3] * shift_y], axis=-1), rects[:, 4])
    rects[:, :2] += offset
    side = np.maximum(rects[:, 2], rects[:, 3]) * scale
    rects[:, 2] = side
    rects[:, 3] = side
    return rects


def landmarks_to_rects(landmarks: np.ndarray) -> np.ndarray:
    """Tracking rectangles (N, 5) from (N, 21, >=2) pixel landmarks, before the 2.0 scale: the rotated
    bounding box of the partial landmark set, rotated so the wrist->middle-MCP direction points up."""
    points = landmarks[:, TRACKING_LANDMARKS, :2].astype(np.float64)
    wrist = landmarks[:, 0, :2]
    # MediaPipe averages the index and ring MCPs, then averages that with the middle MCP.
    knuckles = ((landmarks[:, 5, :2] + landmarks[:, 13, :2]) / 2 + landmarks[:, 9, :2]) / 2
    rotation = rotation_to_vertical(wrist, knuckles)
    axis_aligned_center = (points.min(axis=1) + points.max(axis=1)) / 2
    projected = rotate(points - axis_aligned_center[:, None, :], -rotation)
    low, high = projected.min(axis=1), projected.max(axis=1)
    center = rotate(((low + high) / 2)[:, None, :], rotation)[:, 0] + axis_aligned_center
    size = high - low
    return np.column_stack([center, size, rotation])


def crop_matrices(rects: np.ndarray, output_size: int) -> np.ndarray:
    """(N, 2, 3) affine matrices mapping image pixels into ``output_size`` square crops of ``rects``.

    MediaPipe maps the rectangle's corners (cv::boxPoints) onto the crop's corners (0 and output_size),
    so the crop x axis runs along the rectangle's rotated x axis."""
    cx, cy, width, height, rotation = rects.T
    cos, sin = np.cos(rotation), np.sin(rotation)
    scale_x, scale_y = output_size / width, output_size / height
    matrices = np.empty((len(rects), 2, 3))
    # crop = S @ R^T @ (p - c) + output_size / 2
    matrices[:, 0, 0] = scale_x * cos
    matrices[:, 0, 1] = scale_x * sin
    matrices[:, 1, 0] = -scale_y * sin
    matrices[:, 1, 1] = scale_y * cos
    matrices[:, 0, 2] = output_size / 2 - (matrices[:, 0, 0] * cx + matrices[:, 0, 1] * cy)
    matrices[:, 1, 2] = output_size / 2 - (matrices[:, 1, 0] * cx + matrices[:, 1, 1] * cy)
    return matrices


def project_from_crops(points: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """Map (N, K, 2) points normalized to their crops ([0, 1]) back to image pixels (MediaPipe's
    LandmarkProjectionCalculator: rotate around the crop centre, then scale by the rectangle size)."""
    rotated = rotate(points - 0.5, rects[:, 4])
    return rotated * rects[:, None, 2:4] + rects[:, None, 0:2]


def axis_aligned_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(N, M) IoU of the axis-aligned boxes of two sets of rectangles; rotation is ignored, as in
    MediaPipe's association of tracked and detected hands."""
    def bounds(rects):
        half = rects[:, 2:4] / 2
        return rects[:, :2] - half, rects[:, :2] + half

    low_a, high_a = bounds(first)
    low_b, high_b = bounds(second)
    return box_iou(np.concatenate([low_a, high_a], 1), np.concatenate([low_b, high_b], 1))


def box_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(N, M) IoU of boxes given as (xmin, ymin, xmax, ymax)."""
    low = np.maximum(first[:, None, :2], second[None, :, :2])
    high = np.minimum(first[:, None, 2:], second[None, :, 2:])
    intersection = np.prod(np.clip(high - low, 0, None), axis=-1)
    area_a = np.prod(first[:, 2:] - first[:, :2], axis=-1)
    area_b = np.prod(second[:, 2:] - second[:, :2], axis=-1)
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1), 0.0)


def to_rotated_rect(rect: np.ndarray) -> RotatedRect:
    return RotatedRect(*(float(value) for value in rect))
