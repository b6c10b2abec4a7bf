"""The palm detector's schedule (HandTracker._detector_due): adaptive by default, fixed on request."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import read_video

from hand_tracking_ros import HandTracker
from hand_tracking_ros.options import TrackerOptions
from hand_tracking_ros.tracker import StreamState


@pytest.fixture(scope="module")
def tracker():
    return HandTracker()


def detector_frames(tracker: HandTracker, options: TrackerOptions, tracked_per_frame: list[list[int]]) -> list[int]:
    """The frames on which the detector runs, for a stream whose tracks are ``tracked_per_frame``."""
    state = StreamState()
    runs = []
    for index, track_ids in enumerate(tracked_per_frame):
        state.track_ids = track_ids
        if tracker._detector_due(state, options):
            runs.append(index)
    return runs


def test_the_interval_doubles_up_to_the_cap_while_no_new_hand_appears(tracker):
    options = TrackerOptions(max_num_hands=2, detection_interval=3, max_detection_interval=15)
    # Frame 0: nothing tracked, the detector looks; from frame 1 on one hand is tracked.
    runs = detector_frames(tracker, options, [[]] + [[0]] * 80)
    assert runs == [0, 3, 9, 21, 36, 51, 66]  # gaps 3, 6, 12, then 15 (the cap) for good


def test_a_fixed_interval_when_the_cap_is_not_above_detection_interval(tracker):
    for cap in (1, 4):
        options = TrackerOptions(max_num_hands=2, detection_interval=4, max_detection_interval=cap)
        assert detector_frames(tracker, options, [[]] + [[0]] * 20) == [0, 4, 8, 12, 16, 20]


def test_detection_interval_1_is_every_frame_as_mediapipe(tracker):
    options = TrackerOptions(max_num_hands=2, detection_interval=1, max_detection_interval=15)
    assert detector_frames(tracker, options, [[]] + [[0]] * 20) == list(range(21))


def test_a_lost_hand_means_a_look_at_once_and_a_new_hand_restarts_the_interval(tracker):
    options = TrackerOptions(max_num_hands=3, detection_interval=2, max_detection_interval=8)
    # 0: nothing tracked; 1-20: two hands, looks after gaps of 2, 4, 8, 8; 21: hand 1 lost, a look at once
    # (then 4 later); the look at 25 finds hand 2, tracked from 26: the next gap is 2 again, then 4.
    tracked = [[]] + [[0, 1]] * 20 + [[0]] * 5 + [[0, 2]] * 7
    assert detector_frames(tracker, options, tracked) == [0, 2, 6, 14, 21, 25, 27, 31]


def test_no_hand_means_every_frame_and_all_hands_means_never(tracker):
    options = TrackerOptions(max_num_hands=2)
    assert detector_frames(tracker, options, [[]] * 10) == list(range(10))
    assert detector_frames(tracker, options, [[]] + [[0, 1]] * 30) == [0]


def test_the_adaptive_schedule_tracks_the_same_hand_with_fewer_detector_runs():
    frames = read_video("videos/reaching_hand_640x360.mp4")
    adaptive = HandTracker(max_num_hands=2)
    fixed = HandTracker(max_num_hands=2, max_detection_interval=3)
    for frame in frames:
        first, second = adaptive.process(frame), fixed.process(frame)
        assert [hand.id for hand in first] == [hand.id for hand in second]
        for a, b in zip(first, second):
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-3)
    assert fixed.detector_runs > 2 * adaptive.detector_runs
