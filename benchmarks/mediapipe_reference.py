"""MediaPipe 0.10.21 `mp.solutions.hands`, the reference our pipeline is compared with.

A test and benchmark dependency only (the `parity` extra): the product never imports mediapipe, and this
module imports it only when a reference is asked for, so that its helpers work without it.
"""

from __future__ import annotations

import numpy as np


def mediapipe_hands(static_image_mode: bool, max_num_hands: int, model_complexity: int = 1,
                    min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
    try:
        import mediapipe as mp
    except ImportError as error:
        raise ImportError(f"the reference needs mediapipe==0.10.21 ({error}): pip install -e \".[parity]\" "
                          "on Python 3.10-3.12, where mediapipe 0.10.21 has wheels") from error

    return mp.solutions.hands.Hands(static_image_mode=static_image_mode, max_num_hands=max_num_hands,
                                    model_complexity=model_complexity,
                                    min_detection_confidence=min_detection_confidence,
                                    min_tracking_confidence=min_tracking_confidence)


def to_arrays(result, width: int, height: int) -> list[dict]:
    """One dict per hand: landmarks (21, 3) in pixels (z as MediaPipe gives it), world landmarks, and
    handedness converted to our unmirrored convention (MediaPipe's legacy labels assume a mirrored image)."""
    hands = []
    for landmarks, world, handedness in zip(result.multi_hand_landmarks or [], result.multi_hand_world_landmarks or [],
                                            result.multi_handedness or []):
        image = np.array([[point.x * width, point.y * height, point.z] for point in landmarks.landmark])
        metric = np.array([[point.x, point.y, point.z] for point in world.landmark])
        label = handedness.classification[0]
        hands.append({"landmarks": image, "world_landmarks": metric,
                      "handedness": "right" if label.label == "Left" else "left", "score": label.score})
    return hands


def run(frames: list[np.ndarray], static_image_mode: bool, max_num_hands: int, model_complexity: int = 1):
    """MediaPipe's hands for each RGB frame, tracking across frames unless static_image_mode."""
    with mediapipe_hands(static_image_mode, max_num_hands, model_complexity) as hands:
        return [to_arrays(hands.process(frame), frame.shape[1], frame.shape[0]) for frame in frames]


def median_pixel_error(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Median over the 21 landmarks of the x, y distance in pixels."""
    return float(np.median(np.linalg.norm(ours[:, :2] - theirs[:, :2], axis=1)))


def match_hands(ours: list, theirs: list[dict]) -> list[tuple]:
    """Pair each of our hands (``Hand``) with MediaPipe's nearest hand: (our hand, reference hand) pairs."""
    pairs = []
    for hand in ours:
        errors = [median_pixel_error(hand.landmarks, reference["landmarks"]) for reference in theirs]
        pairs.append((hand, theirs[int(np.argmin(errors))]))
    return pairs
