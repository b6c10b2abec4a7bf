"""Issue 11's stages for new hands: the second reading from the tracking crop (refine_new_hands), the
candidate palms under min_detection_confidence that the landmark model must confirm (min_candidate_*), and
the detector's tiles of wide images (tile_wide_images)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import DATA_DIR, load_rgb, read_video

from hand_tracking_ros import HandTracker
from hand_tracking_ros.detector import tile_squares
from hand_tracking_ros.options import MEDIAPIPE_OPTIONS, TrackerOptions

# HaGRID-like photos where a resting hand at the person's side (35-55 px) gets a palm score under 0.5 but
# a presence of 0.97-0.98 once read from its tracking crop; the gesturing hand is found either way.
RESTING_HAND_PHOTOS = ("gestures/call/0e022ee9-74fd-44fe-adad-60c11835e44f.jpg",
                       "gestures/rock/055f8be9-f7fd-4c7f-ad3f-7b404b6489c3.jpg")
NEGATIVE_IMAGES = sorted(str(path.relative_to(DATA_DIR)) for path in DATA_DIR.glob("negatives/*")
                         if path.suffix.lower() in (".png", ".jpg"))


class CountingLandmarkModel:
    """Wraps the real landmark model, counting the crops it reads per call."""

    def __init__(self, model) -> None:
        self.model, self.calls = model, []

    def run(self, images, image_indices, rects):
        self.calls.append(len(rects))
        return self.model.run(images, image_indices, rects)


@pytest.fixture(scope="module")
def static_default():
    return HandTracker(static_image_mode=True)


@pytest.mark.parametrize("name", RESTING_HAND_PHOTOS)
def test_candidate_palm_confirmed_by_presence_adds_the_resting_hand(static_default, name):
    image = load_rgb(name)
    mediapipe_rules = HandTracker(static_image_mode=True, **MEDIAPIPE_OPTIONS).process(image)
    without_candidates = HandTracker(static_image_mode=True, min_candidate_palm_confidence=0.5).process(image)
    hands = static_default.process(image)
    assert len(mediapipe_rules) == len(without_candidates) == 1
    assert len(hands) == 2
    gesturing, resting = sorted(hands, key=lambda hand: hand.landmarks[0, 1])
    assert np.linalg.norm(gesturing.landmarks[:, :2] - mediapipe_rules[0].landmarks[:, :2], axis=1).mean() < 3
    assert resting.presence >= TrackerOptions().min_candidate_presence
    assert resting.landmarks[0, 1] > gesturing.landmarks[0, 1] + 100  # the hand at the side, well below


def test_refinement_keeps_the_higher_presence_on_photos():
    names = ("hands/hand_left.jpg", "hands/thumb_up_2.jpg", "hands/thumbs_up.png", "hands/victory.jpg",
             "hands/assorted/2.jpg")
    once = HandTracker(static_image_mode=True, refine_new_hands=False, smoothing=False)
    twice = HandTracker(static_image_mode=True, smoothing=False)
    for name in names:
        image = load_rgb(name)
        for first, refined in zip(once.process(image), twice.process(image)):
            assert refined.presence >= first.presence
            # The same hand, read again: the landmarks agree to a small fraction of the hand.
            size = np.ptp(first.landmarks[:, :2], axis=0).max()
            assert np.linalg.norm(refined.landmarks[:, :2] - first.landmarks[:, :2], axis=1).mean() < 0.1 * size


def test_only_new_hands_are_read_twice():
    frames = read_video("videos/reaching_hand_640x360.mp4", max_frames=12)
    tracker = HandTracker(max_num_hands=1)
    counting = CountingLandmarkModel(tracker.landmark_model)
    tracker._models = type(tracker._models)(tracker.detector, counting)  # the same models, counted
    for index, frame in enumerate(frames):
        assert len(tracker.process(frame, index / 25)) == 1
    # Frame 0: the palm crop and its refinement; then one tracked crop per frame, read once.
    assert counting.calls == [1, 1] + [1] * (len(frames) - 1)


def test_no_false_hand_in_the_negative_video_tracked_frame_by_frame():
    """Every frame of negatives/cockatoo.mp4 through tracking (the detector runs on each, no hand being
    tracked), with candidate palms and refinement on: candidates appear, no hand does."""
    tracker = HandTracker()
    frames = read_video("negatives/cockatoo.mp4")
    candidates = sum(len(tracker.detector.detect([frame], tracker.min_candidate_palm_confidence)[0][0])
                     for frame in frames[::10])
    assert candidates > 0  # the stage has palms to judge here, so the test proves something
    assert sum(len(tracker.process(frame, index / 25)) for index, frame in enumerate(frames)) == 0


@pytest.mark.parametrize("name", NEGATIVE_IMAGES)
def test_no_false_hand_on_negative_images_even_with_candidates_from_zero(name):
    """Even palms of any score are refused on the negatives unless the landmark model is sure."""
    tracker = HandTracker(static_image_mode=True, min_candidate_palm_confidence=0.05)
    assert tracker.process(load_rgb(name)) == []


def test_mediapipe_rules_are_two_options_away():
    options = TrackerOptions().replace(**MEDIAPIPE_OPTIONS)
    assert not options.refine_new_hands and options.min_candidate_palm_confidence >= options.min_detection_confidence


def far_away_hand_frame(hand_px: float) -> tuple[np.ndarray, np.ndarray]:
    """hands/hand_left.jpg scaled down so that its hand is ``hand_px`` across, pasted into the middle of a
    1280x720 frame of negatives/kodim03.png, and where its hand's centre then is."""
    photo = load_rgb("hands/hand_left.jpg")
    hand = HandTracker(static_image_mode=True, **MEDIAPIPE_OPTIONS).process(photo)[0].landmarks[:, :2]
    scale = hand_px / np.ptp(hand, axis=0).max()
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = cv2.resize(load_rgb("negatives/kodim03.png"), (1280, 720), interpolation=cv2.INTER_AREA)
    top, left = (720 - small.shape[0]) // 2, (1280 - small.shape[1]) // 2
    frame[top:top + small.shape[0], left:left + small.shape[1]] = small
    return frame, (hand.min(axis=0) + hand.max(axis=0)) / 2 * scale + [left, top]


def test_tiles_find_a_hand_too_small_for_the_whole_frame():
    """A 75 px hand in 1280x720: the whole frame loses this photo's hand under about 100 px, the three tiles
    find it down to about 54 px."""
    frame, centre = far_away_hand_frame(75)
    assert HandTracker(static_image_mode=True).process(frame) == []
    hands = HandTracker(static_image_mode=True, tile_wide_images=True).process(frame)
    assert len(hands) == 1
    assert np.linalg.norm(hands[0].landmarks[:, :2].mean(axis=0) - centre) < 30


def test_tile_squares_cover_wide_and_tall_images_and_skip_square_ones():
    assert tile_squares(1280, 720) == [(0, 0, 720), (280, 0, 720), (560, 0, 720)]
    assert tile_squares(720, 1280) == [(0, 0, 720), (0, 280, 720), (0, 560, 720)]
    assert tile_squares(640, 480) == []


@pytest.mark.parametrize("name", NEGATIVE_IMAGES)
def test_no_false_hand_on_negative_images_with_tiles(name):
    assert HandTracker(static_image_mode=True, tile_wide_images=True).process(load_rgb(name)) == []

