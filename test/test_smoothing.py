"""One Euro smoothing per track: on the real test videos through HandTracker, and its rules on real hands."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import read_video
from jitter import accel, jitter, lag  # benchmarks/jitter.py, the same measures as the benchmark

from hand_tracking_ros import HandTracker
from hand_tracking_ros.smoothing import (IMAGE_SMOOTHING, HandMotionFilter, LandmarkSmoother, OneEuroFilter,
                                         OneEuroParams, hand_scale, similarity_motion)

VIDEO = "videos/reaching_hand_640x360.mp4"
FPS = 25.0
STILL, MOVING = (100, 200), (0, 90)  # see benchmarks/jitter.py


@pytest.fixture(scope="module")
def frames():
    return read_video(VIDEO)


def track(frames, **options) -> tuple[np.ndarray, np.ndarray]:
    tracker = HandTracker(max_num_hands=1, **options)
    hands = [tracker.process(frame, index / FPS)[0] for index, frame in enumerate(frames)]
    return (np.array([hand.landmarks[:, :2] for hand in hands], np.float64),
            np.array([hand.world_landmarks for hand in hands], np.float64))


@pytest.fixture(scope="module")
def raw_and_smoothed(frames):
    return track(frames, smoothing=False), track(frames)


@pytest.fixture(scope="module")
def hand(raw_and_smoothed):
    """Real landmarks of one frame: (image (21, 3) with z 0, world (21, 3))."""
    (image, world), _ = raw_and_smoothed
    return np.column_stack([image[120], np.zeros(21)]), world[120]


def test_smoothing_removes_jitter_on_a_real_video(raw_and_smoothed):
    (raw, raw_world), (smoothed, smoothed_world) = raw_and_smoothed
    # The still hand's jitter, free of its slow drift: the benchmark measures 6x, the floor is 3x.
    assert accel(smoothed, STILL) < accel(raw, STILL) / 3
    assert jitter(smoothed, STILL) < jitter(raw, STILL)
    assert jitter(smoothed_world, STILL) < jitter(raw_world, STILL) / 3


def test_smoothing_lags_at_most_one_frame_on_a_moving_hand(raw_and_smoothed):
    (raw, raw_world), (smoothed, smoothed_world) = raw_and_smoothed
    assert 0 <= lag(smoothed, raw, MOVING) <= 1.0
    assert 0 <= lag(smoothed_world, raw_world, MOVING) <= 1.0


def test_tracker_smoothing_can_be_switched(frames):
    tracker = HandTracker(max_num_hands=1, smoothing=False)
    reference = HandTracker(max_num_hands=1, smoothing=False)
    for index in range(3):
        ours = tracker.process(frames[index], index / FPS)[0]
        raw = reference.process(frames[index], index / FPS)[0]
        np.testing.assert_array_equal(ours.landmarks, raw.landmarks)
    tracker.smoothing = True
    for index in range(3, 30):
        ours = tracker.process(frames[index], index / FPS)[0]
        raw = reference.process(frames[index], index / FPS)[0]
        if index == 3:  # switching on starts from this frame's landmarks
            np.testing.assert_array_equal(ours.landmarks, raw.landmarks)
    assert not np.array_equal(ours.landmarks, raw.landmarks)


def test_smoothing_never_changes_the_crops(frames, raw_and_smoothed):
    """The tracker's output with smoothing is the smoother applied to its output without: the next frame's
    crop comes from the raw landmarks either way. So comparing a run with smoothing against one without
    measures the filter's lag alone, and a smoothed run cannot drift onto another crop history (crops cut
    around the smoothed landmarks did: see the docstring of benchmarks/jitter.py)."""
    (raw, raw_world), (smoothed, smoothed_world) = raw_and_smoothed
    smoother = LandmarkSmoother()
    offline = [smoother.smooth(0, np.column_stack([image, np.zeros(21)]), world, index / FPS)
               for index, (image, world) in enumerate(zip(raw, raw_world))]
    np.testing.assert_allclose(np.array([image[:, :2] for image, _ in offline]), smoothed, atol=1e-3)
    np.testing.assert_allclose(np.array([world for _, world in offline]), smoothed_world, atol=1e-6)


def test_image_smoothing_is_scale_aware(hand):
    """Value scaling by the hand's size: the same motion of a hand twice as big is smoothed the same."""
    image, world = hand
    rng = np.random.default_rng(1)
    steps = np.cumsum(rng.normal(0, 1.5, (40, 21, 3)) * [1, 1, 0], axis=0)
    small, big = LandmarkSmoother(), LandmarkSmoother()
    for index, step in enumerate(steps):
        out_small = small.smooth(0, image + step, world, index / 30)[0]
        out_big = big.smooth(0, 2 * (image + step), world, index / 30)[0]
        np.testing.assert_allclose(out_big, 2 * out_small, rtol=1e-5, atol=1e-3)


def test_track_restarts_on_jump_new_id_and_backwards_time(hand):
    image, world = hand
    smoother = LandmarkSmoother()
    smoother.smooth(0, image, world, 0.0)
    nudged = image + [3.0, 0.0, 0.0]
    assert not np.allclose(smoother.smooth(0, nudged, world, 0.04)[0], nudged)  # filtered
    jump = image + [1.5 * hand_scale(image), 0.0, 0.0]
    np.testing.assert_allclose(smoother.smooth(0, jump, world, 0.08)[0], jump, rtol=1e-6)  # restarted
    np.testing.assert_allclose(smoother.smooth(0, image, world, 0.0)[0], image, rtol=1e-6)  # time went back
    np.testing.assert_allclose(smoother.smooth(1, nudged, world, 0.12)[0], nudged, rtol=1e-6)  # another track
    smoother.forget([0])
    np.testing.assert_allclose(smoother.smooth(0, nudged, world, 0.16)[0], nudged, rtol=1e-6)  # forgotten


def test_missing_timestamps_assume_the_nominal_frequency(hand):
    image, world = hand
    with_times, without = LandmarkSmoother(nominal_frequency=30.0), LandmarkSmoother(nominal_frequency=30.0)
    for index in range(10):
        moved = image + index * 2.0
        np.testing.assert_allclose(with_times.smooth(0, moved, world, index / 30)[0],
                                   without.smooth(0, moved, world, None)[0], rtol=1e-6)


def test_nan_landmarks_pass_through_and_do_not_poison_the_track(hand):
    image, world = hand
    smoother = LandmarkSmoother()
    smoother.smooth(0, image, world, 0.0)
    broken = image.copy()
    broken[3] = np.nan
    assert np.isnan(smoother.smooth(0, broken, world, 0.04)[0][3]).all()
    assert np.isfinite(smoother.smooth(0, image, world, 0.08)[0]).all()


def test_one_euro_filter_follows_fast_motion_and_holds_slow_noise():
    rng = np.random.default_rng(2)
    # Speed in units per second after value scaling; cutoff = 0.05 + 10 * speed (the image defaults).
    slow, fast = OneEuroFilter(OneEuroParams(0.05, 10.0), 1), OneEuroFilter(OneEuroParams(0.05, 10.0), 1)
    noise = rng.normal(0, 0.01, (100, 1, 1))
    held = np.array([slow(value, 1 / 30) for value in noise])
    assert held[50:].std() < noise.std() / 3
    ramp = np.array([fast(np.full((1, 1), index * 0.5), 1 / 30) for index in range(30)])
    assert abs(ramp[-1, 0, 0] - 29 * 0.5) < 0.5  # within one step of the input after it got going


def test_similarity_motion_recovers_a_turned_scaled_shifted_hand(hand):
    points = hand[0][:, :2]
    angle, scale, shift = 0.4, 1.3, np.array([25.0, -40.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = scale * (points - points.mean(axis=0)) @ rotation.T + points.mean(axis=0) + shift
    np.testing.assert_allclose(similarity_motion(points, moved), moved, atol=1e-9)
    bent = moved.copy()
    bent[8] += [30.0, 0.0]  # the index fingertip moves within the hand: most of that stays out of the fit
    assert np.linalg.norm(bent[8] - similarity_motion(points, bent)[8]) > 0.8 * 30.0
    np.testing.assert_allclose(similarity_motion(np.zeros((21, 2)), np.ones((21, 2))), np.ones((21, 2)))


def run_filter(make_filter, sequence, fps=25.0):
    smooth = make_filter()
    return np.array([smooth(points, 1 / fps, 1 / hand_scale(points)) for points in sequence])


def test_hand_motion_speed_holds_noise_and_follows_the_hand_and_its_fingers(hand):
    """Against MediaPipe's per-landmark speed at the same parameters: the landmark model's noise (here 1.5 %
    of the hand's size per landmark and frame) opens the filter less, so a held hand is smoothed more; a hand
    sweeping and turning is followed as closely, and a finger moving on its own within a frame's motion (its
    speed counts at half weight, so it lags about twice as much: 5.6 against 2.5 px here)."""
    points = hand[0][:, :2]
    size = hand_scale(points)
    rng = np.random.default_rng(3)

    def hand_motion():
        return HandMotionFilter(IMAGE_SMOOTHING)

    def per_landmark():
        return OneEuroFilter(IMAGE_SMOOTHING, speed_dims=2)

    noisy = points + rng.normal(0, 0.015 * size, (100, 21, 2))
    motion = {name: np.linalg.norm(np.diff(run_filter(make, noisy)[20:], axis=0), axis=-1).mean()
              for name, make in (("hand", hand_motion), ("landmark", per_landmark))}
    assert motion["hand"] < 0.8 * motion["landmark"]

    frames = np.arange(40)
    angles = 0.03 * frames  # about 1.7 degrees a frame while it sweeps 0.15 hand sizes a frame
    centre = points.mean(axis=0)
    sweep = np.array([(points - centre) @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T
                      + centre + [0.15 * size * frame, 0.0] for frame, a in zip(frames, angles)])
    finger = np.repeat(points[None], 40, axis=0)
    finger[:, 8] += np.outer(frames, [0.0, 0.05 * size])  # the index tip alone, 0.05 hand sizes a frame
    errors = {}
    for sequence_name, sequence in (("sweep", sweep), ("finger", finger)):
        for name, make in (("hand", hand_motion), ("landmark", per_landmark)):
            errors[sequence_name, name] = np.linalg.norm(run_filter(make, sequence)[10:] - sequence[10:],
                                                         axis=-1).max()
    assert errors["sweep", "hand"] < errors["sweep", "landmark"] + 0.1, errors
    assert errors["sweep", "hand"] < 0.02 * size, errors  # the sweep moves 0.15 hand sizes a frame
    assert errors["finger", "hand"] < 0.05 * size, errors  # less than a frame's motion


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="min_cutoff"):
        OneEuroParams(min_cutoff=0.0, beta=1.0)
    with pytest.raises(ValueError, match="positive"):
        LandmarkSmoother(jump_threshold=0.0)
    with pytest.raises(ValueError, match="residual_weight"):
        LandmarkSmoother(residual_weight=float("nan"))


def test_bad_timestamps_never_make_nan_landmarks(hand):
    """A NaN, infinite, repeated or absurdly close timestamp restarts the filter instead of poisoning it."""
    image, world = hand
    smoother = LandmarkSmoother()
    smoother.smooth(0, image, world, 0.0)
    for step, timestamp in enumerate((float("nan"), 0.04, float("inf"), 0.08, 0.08, 0.08 + 1e-300, 0.12), 1):
        moved = image + [step * 0.5, 0.0, 0.0]
        smoothed, smoothed_world = smoother.smooth(0, moved, world, timestamp)
        assert np.isfinite(smoothed).all() and np.isfinite(smoothed_world).all(), timestamp
    assert not np.allclose(smoother.smooth(0, image + 1.0, world, 0.16)[0], image + 1.0)  # filtering again
    tiny_steps = LandmarkSmoother()  # steps whose speed would overflow to infinity
    for step, timestamp in enumerate((0.0, 5e-324, 1e-323, 1.5e-323, 0.04)):
        smoothed = tiny_steps.smooth(0, image + [step * 0.5, 0.0, 0.0], world, timestamp)[0]
        assert np.isfinite(smoothed).all(), timestamp


def test_new_parameters_reach_running_tracks(frames):
    tracker = HandTracker(max_num_hands=1)
    reference = HandTracker(max_num_hands=1, smoothing_min_cutoff=100.0, smoothing_beta=1000.0)
    for index in range(100, 110):
        if index == 105:  # a filter this open passes the hand's motion through nearly unchanged
            tracker.update(smoothing_min_cutoff=100.0, smoothing_beta=1000.0)
        ours = tracker.process(frames[index], index / FPS)[0]
        theirs = reference.process(frames[index], index / FPS)[0]
    assert ours.id == 0
    np.testing.assert_allclose(ours.landmarks[:, :2], theirs.landmarks[:, :2], atol=0.5)


@pytest.fixture(scope="module")
def thumbs_up_raw():
    """The unsmoothed first hand of videos/thumbs_up_1280x720.mp4 (25 fps): (frame numbers, track ids,
    image landmarks, world landmarks) of the frames with a hand."""
    frames = read_video("videos/thumbs_up_1280x720.mp4")
    tracker = HandTracker(max_num_hands=1, smoothing=False)
    found = []
    for index, frame in enumerate(frames):
        hands = tracker.process(frame, index / 25)
        if hands:
            found.append((index, hands[0].id, hands[0].landmarks, hands[0].world_landmarks))
    return found


def smoothed_clip(found, step: int) -> tuple[np.ndarray, np.ndarray]:
    """(raw, smoothed) image landmarks of every ``step``-th frame through the default smoother: what the
    tracker outputs with its defaults, since smoothing never feeds back into tracking."""
    smoother = LandmarkSmoother()
    kept = [item for item in found if item[0] % step == 0]
    raw = np.stack([item[2] for item in kept])
    out = np.stack([smoother.smooth(track_id, image, world, index / 25)[0]
                    for index, track_id, image, world in kept])
    return raw[..., :2], out[..., :2]


def test_defaults_do_not_lag_on_fast_motion(thumbs_up_raw):
    """The video sped up 3x and 4x (every 3rd or 4th frame, its timestamps kept): MediaPipe's video-test
    tolerance of 26 px holds on every frame (about 9 px at most here), and the median distance from the
    unsmoothed landmarks stays about 1.9 px (the previous default, beta 10, lagged about twice that). This
    clip's raw landmarks jitter by about 4 px a frame, so halving that jitter cannot keep much closer."""
    for step in (3, 4):
        raw, out = smoothed_clip(thumbs_up_raw, step)
        errors = np.linalg.norm(out - raw, axis=-1)
        assert errors.max() < 18.0
        assert np.median(errors) < 2.8


def test_defaults_halve_the_jitter_of_a_held_hand(thumbs_up_raw):
    """Frames 70-190, the thumb-up held: about 2.8x less frame-to-frame motion than the raw landmarks (the
    per-landmark speed of MediaPipe's filter gave about 2.35x at the same parameters)."""
    raw, out = smoothed_clip(thumbs_up_raw, 1)
    indices = np.array([item[0] for item in thumbs_up_raw])
    held = (indices >= 70) & (indices < 190)

    def motion(points):
        return np.linalg.norm(np.diff(points[held], axis=0), axis=-1).mean()

    assert motion(raw) / motion(out) > 2.3
