"""Geometry of anchors, crops and rectangles against hand-checked values and round trips."""

from __future__ import annotations

import numpy as np
import pytest

from hand_tracking_ros.detector import ANCHORS, decode, letterbox_matrix, weighted_nms
from hand_tracking_ros.geometry import (box_iou, crop_matrices, landmarks_to_rects, normalize_radians,
                                        project_from_crops, rotate, rotation_to_vertical, transform_rects)


def test_anchor_grid_matches_mediapipe_layout():
    assert ANCHORS.shape == (2016, 2)
    # Stride 8: 24x24 cells with 2 anchors each, row by row; then stride 16: 12x12 cells with 6 anchors.
    np.testing.assert_allclose(ANCHORS[0], ANCHORS[1])
    np.testing.assert_allclose(ANCHORS[0], [0.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(ANCHORS[2], [1.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(ANCHORS[48], [0.5 / 24, 1.5 / 24])
    np.testing.assert_allclose(ANCHORS[1152:1158], [[0.5 / 12, 0.5 / 12]] * 6)
    np.testing.assert_allclose(ANCHORS[-1], [11.5 / 12, 11.5 / 12])


def test_normalize_radians_range():
    angles = normalize_radians(np.linspace(-20, 20, 401))
    assert angles.min() >= -np.pi and angles.max() < np.pi
    np.testing.assert_allclose(np.cos(angles), np.cos(np.linspace(-20, 20, 401)), atol=1e-12)


def test_rotation_turns_the_vector_upright():
    rng = np.random.default_rng(1)
    start, end = rng.normal(size=(50, 2)) * 100, rng.normal(size=(50, 2)) * 100
    rotation = rotation_to_vertical(start, end)
    upright = rotate((end - start)[:, None, :], -rotation)[:, 0]
    np.testing.assert_allclose(upright[:, 0], 0, atol=1e-9)
    assert (upright[:, 1] < 0).all()  # up on screen is negative y


def test_transform_rect_shifts_along_rotated_axis_then_squares_and_scales():
    rect = np.array([[100.0, 200.0, 40.0, 20.0, np.pi / 2]])
    out = transform_rects(rect, shift_y=-0.5, scale=2.0)[0]
    # Rotated by 90 degrees clockwise, the rectangle's "up" (-y) points to +x on screen.
    np.testing.assert_allclose(out[:2], [110.0, 200.0], atol=1e-9)
    np.testing.assert_allclose(out[2:], [80.0, 80.0, np.pi / 2])


def test_crop_matrix_and_projection_are_inverse():
    rects = np.array([[320.0, 180.0, 150.0, 150.0, 0.7], [50.0, 60.0, 90.0, 90.0, -2.5]])
    matrices = crop_matrices(rects, 224)
    crop_points = np.random.default_rng(2).random((2, 21, 2))
    image_points = project_from_crops(crop_points, rects)
    back = np.einsum("nij,nkj->nki", matrices[:, :, :2], image_points) + matrices[:, None, :, 2]
    np.testing.assert_allclose(back / 224, crop_points, atol=1e-9)
    # The crop centre is the rectangle centre.
    np.testing.assert_allclose(project_from_crops(np.full((2, 1, 2), 0.5), rects)[:, 0], rects[:, :2])


def test_landmarks_to_rect_recovers_hand_rotation():
    # An upright synthetic hand (fingers up), rotated by a known angle.
    hand = np.zeros((21, 2))
    hand[[5, 9, 13, 17]] = [[-20, -60], [0, -62], [20, -60], [38, -55]]
    hand[[1, 2, 3]] = [[-25, -10], [-40, -25], [-50, -40]]
    hand[[6, 10, 14, 18]] = hand[[5, 9, 13, 17]] + [0, -25]
    hand[[7, 11, 15, 19]] = hand[[6, 10, 14, 18]] + [0, -20]
    hand[[4, 8, 12, 16, 20]] = hand[[3, 7, 11, 15, 19]] + [0, -15]
    angle = 0.9
    rotated = rotate(hand[None], np.array([angle]))[0] + [300, 200]
    rect = landmarks_to_rects(rotated[None])[0]
    upright_rect = landmarks_to_rects((hand + [300, 200])[None])[0]
    assert rect[4] == pytest.approx(angle + upright_rect[4], abs=1e-9)
    np.testing.assert_allclose(rect[2:4], upright_rect[2:4], atol=1e-9)


def test_box_iou_known_values():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], float)
    iou = box_iou(boxes, boxes)
    np.testing.assert_allclose(np.diag(iou), 1)
    assert iou[0, 1] == pytest.approx(50 / 150)
    assert iou[0, 2] == 0


def test_letterbox_puts_image_centred_in_square():
    matrix, padding = letterbox_matrix(640, 360)
    corners = np.array([[0, 0, 1], [640, 360, 1]], float) @ matrix.T
    np.testing.assert_allclose(corners, [[0, 42], [192, 42 + 108]])
    np.testing.assert_allclose(padding, [0, 140 / 640])


def test_decode_and_weighted_nms_merge_overlapping_boxes():
    regressors = np.zeros((2016, 18), np.float32)
    logits = np.full((2016, 1), -100, np.float32)
    # Two anchors in the same cell vote for nearly the same palm; a third palm is far away.
    regressors[[0, 1], 2:4] = 40
    regressors[1, 0] = 2
    regressors[-1, 2:4] = 30
    logits[[0, 1, 2015]] = [[3.0], [1.0], [2.0]]
    scores, boxes, keypoints = weighted_nms(*decode(regressors, logits, min_score=0.5))
    assert len(scores) == 2
    assert scores[0] == pytest.approx(1 / (1 + np.exp(-3)))
    weight = np.array([1 / (1 + np.exp(-3)), 1 / (1 + np.exp(-1))])
    expected_x_center = ANCHORS[0, 0] + (weight @ [0, 2 / 192]) / weight.sum()
    assert (boxes[0, 0] + boxes[0, 2]) / 2 == pytest.approx(expected_x_center)
    assert keypoints.shape == (2, 7, 2)
