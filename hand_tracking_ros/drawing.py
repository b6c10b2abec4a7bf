"""Drawing hands on images (CLI --annotate and the node's annotated image topic)."""

from __future__ import annotations

import cv2
import numpy as np

from .types import HAND_CONNECTIONS, Hand

# RGB colours by handedness, so left and right hands are told apart at a glance.
HAND_COLORS = {"left": (255, 140, 0), "right": (0, 160, 255)}
JOINT_COLOR = (255, 255, 255)


def hand_label(hand: Hand) -> str:
    label = f"#{hand.id} {hand.handedness} {hand.handedness_score:.2f}"
    return f"{label} {hand.gesture}" if hand.gesture else label


def draw_hands(image_rgb: np.ndarray, hands: list[Hand]) -> np.ndarray:
    """A copy of ``image_rgb`` with each hand's skeleton, joints and a label (id, handedness, gesture)."""
    canvas = np.ascontiguousarray(image_rgb).copy()
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    for hand in hands:
        color = HAND_COLORS.get(hand.handedness, (0, 255, 0))
        points = np.round(hand.landmarks[:, :2]).astype(np.int32)
        for start, end in HAND_CONNECTIONS:
            cv2.line(canvas, tuple(points[start]), tuple(points[end]), color, thickness, cv2.LINE_AA)
        for point in points:
            cv2.circle(canvas, tuple(point), thickness + 2, JOINT_COLOR, -1, cv2.LINE_AA)
            cv2.circle(canvas, tuple(point), thickness + 2, color, 1, cv2.LINE_AA)
        top = points[:, 1].min()
        anchor = (int(points[:, 0].min()), int(max(top - 8, 16)))
        scale, label = 0.4 + thickness * 0.15, hand_label(hand)
        cv2.putText(canvas, label, anchor, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        cv2.putText(canvas, label, anchor, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness, cv2.LINE_AA)
    return canvas
