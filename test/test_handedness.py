"""Handedness averaged over the life of a track, with the per-frame value kept."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import read_video

from hand_tracking_ros import HandTracker
from hand_tracking_ros.handedness import HandednessAverager, right_probability


def test_video_average_matches_mediapipe_expectation():
    # MediaPipe's own test expects this video's average handedness to be "Left" about 0.95 in its legacy
    # (mirrored) convention, which is a right hand for an unmirrored camera (reference doc 1.9).
    tracker = HandTracker(max_num_hands=1)
    frame_right = []
    for index, frame in enumerate(read_video("videos/reaching_hand_640x360.mp4")):
        hand = tracker.process(frame, index / 25)[0]
        frame_right.append(right_probability(hand.frame_handedness, hand.frame_handedness_score))
    assert hand.handedness == "right"
    assert hand.handedness_score == pytest.approx(np.mean(frame_right), abs=1e-6)
    assert hand.handedness_score == pytest.approx(0.95, abs=0.05)
    # The per-frame value is still there and differs from the average.
    assert hand.frame_handedness_score != pytest.approx(hand.handedness_score, abs=1e-6)


def test_single_frame_flips_do_not_change_the_label():
    averager = HandednessAverager()
    labels = []
    for frame in range(30):
        # A confident right hand, misread as a confident left hand every fifth frame (mediapipe#1341).
        flipped = frame % 5 == 4
        labels.append(averager.update(3, "left" if flipped else "right", 0.95 if flipped else 0.9)[0])
    assert set(labels) == {"right"}
    label, score = averager.update(3, "right", 0.9)
    assert label == "right" and 0.5 < score < 0.9


def test_tracks_are_independent_and_forgotten():
    averager = HandednessAverager()
    assert averager.update(1, "right", 0.8) == ("right", pytest.approx(0.8))
    assert averager.update(2, "left", 0.7) == ("left", pytest.approx(0.7))
    assert averager.update(1, "left", 0.6) == ("right", pytest.approx(0.6))  # mean P(right) (0.8 + 0.4) / 2
    averager.forget([1])
    assert averager.update(1, "left", 0.6) == ("left", pytest.approx(0.6))  # starts over


def test_bad_label_raises():
    with pytest.raises(ValueError, match="left"):
        right_probability("Left", 0.9)
