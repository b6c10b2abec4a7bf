"""The whole pipeline on real images and videos, against MediaPipe 0.10.21 where it is installed."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import DATA_DIR, import_mediapipe, load_rgb, read_video

from hand_tracking_ros import HandTracker
from hand_tracking_ros.models import ModelFileError
from hand_tracking_ros.options import MEDIAPIPE_OPTIONS, OptionError, TrackerOptions
from mediapipe_reference import match_hands, median_pixel_error  # benchmarks/, importable without mediapipe

HAND_IMAGES = sorted(str(path.relative_to(DATA_DIR)) for pattern in ("hands/*.png", "hands/*.jpg", "hands/assorted/*.jpg")
                     for path in DATA_DIR.glob(pattern))
NEGATIVE_IMAGES = sorted(str(path.relative_to(DATA_DIR)) for path in DATA_DIR.glob("negatives/*")
                         if path.suffix.lower() in (".png", ".jpg"))
VIDEO = "videos/reaching_hand_640x360.mp4"


@pytest.fixture(scope="module")
def static_tracker():
    return HandTracker(static_image_mode=True)


def raw_tracker(**options) -> HandTracker:
    """A tracker with MediaPipe's rules and without smoothing, whose landmarks are the models' own,
    comparable with MediaPipe's."""
    return HandTracker(**{**MEDIAPIPE_OPTIONS, **options})


@pytest.fixture(scope="module")
def video_frames():
    return read_video(VIDEO)


def test_images_match_mediapipe():
    mediapipe_reference = pytest.importorskip("mediapipe_reference")
    import_mediapipe()
    images = [load_rgb(name) for name in HAND_IMAGES]
    references = mediapipe_reference.run(images, static_image_mode=True, max_num_hands=2)
    found = 0
    tracker = raw_tracker(static_image_mode=True)
    for name, image, theirs in zip(HAND_IMAGES, images, references):
        ours = tracker.process(image)
        assert len(ours) == len(theirs), name
        for hand, reference in match_hands(ours, theirs):
            assert median_pixel_error(hand.landmarks, reference["landmarks"]) < 2.0, name
            np.testing.assert_allclose(hand.landmarks[:, 2], reference["landmarks"][:, 2], atol=0.01)
            np.testing.assert_allclose(hand.world_landmarks, reference["world_landmarks"], atol=0.005)
            assert hand.handedness == reference["handedness"], name
            found += 1
    assert found >= 15  # the photos hold at least this many hands that both pipelines find


def test_video_tracking_matches_mediapipe(video_frames):
    mediapipe_reference = pytest.importorskip("mediapipe_reference")
    import_mediapipe()
    references = mediapipe_reference.run(video_frames, static_image_mode=False, max_num_hands=2)
    tracker = raw_tracker(max_num_hands=2)
    errors = []
    for index, (frame, theirs) in enumerate(zip(video_frames, references)):
        ours = tracker.process(frame)
        assert len(ours) == len(theirs), f"frame {index}"
        errors += [median_pixel_error(hand.landmarks, reference["landmarks"]) for hand, reference in match_hands(ours, theirs)]
    assert len(errors) >= 150
    assert np.median(errors) < 2.0


def test_one_hand_keeps_one_id_and_detector_stops_when_full(video_frames):
    tracker = HandTracker(max_num_hands=1)
    ids = set()
    for frame in video_frames:
        ids.update(hand.id for hand in tracker.process(frame))
    assert ids == {0}
    # Tracking from landmarks: the detector ran only until the hand was found.
    assert tracker.detector_runs <= 3
    # With room for a second hand, MediaPipe's rule runs the detector on every frame (detection_interval=1);
    # with a fixed interval of 3 it looks for the second hand every third frame once one hand is tracked
    # (the default schedule, which looks less and less often, is tested in test_detector_schedule.py).
    every_frame = HandTracker(max_num_hands=2, detection_interval=1)
    every_third = HandTracker(max_num_hands=2, max_detection_interval=3)
    for frame in video_frames[:21]:
        every_frame.process(frame)
        every_third.process(frame)
    assert every_frame.detector_runs == 21
    assert every_third.detector_runs == 7


def test_detection_interval_does_not_change_the_tracked_hand(video_frames):
    every_frame = raw_tracker(max_num_hands=2, detection_interval=1)
    every_third = raw_tracker(max_num_hands=2, detection_interval=3)
    for frame in video_frames[:60]:
        first, second = every_frame.process(frame), every_third.process(frame)
        assert len(first) == len(second)
        for a, b in zip(first, second):
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-3)


def test_ids_are_never_reused(video_frames):
    tracker = HandTracker(max_num_hands=1)
    first = tracker.process(video_frames[100])[0].id
    tracker.reset()
    second = tracker.process(video_frames[100])[0].id
    assert second != first


def test_presence_threshold_ends_tracks(video_frames):
    tracker = HandTracker(max_num_hands=1)
    assert len(tracker.process(video_frames[100])) == 1
    assert tracker.process(np.zeros_like(video_frames[101])) == []  # the tracked crop holds no hand any more
    assert tracker.process(video_frames[102])[0].id == 1  # the old track ended; a new one starts


def test_static_mode_detects_every_image_without_tracking(video_frames):
    tracker = HandTracker(static_image_mode=True, max_num_hands=1)
    ids = [tracker.process(frame)[0].id for frame in video_frames[100:105]]
    assert tracker.detector_runs == 5
    assert len(set(ids)) == 5


def test_max_num_hands_caps_the_result(static_tracker):
    two_hands = load_rgb("hands/assorted/0.jpg")
    assert len(static_tracker.process(two_hands)) == 2
    capped = HandTracker(static_image_mode=True, max_num_hands=1)
    assert len(capped.process(two_hands)) == 1


def test_tracking_never_exceeds_max_hands_or_duplicates():
    frames = [load_rgb("hands/assorted/0.jpg")] * 6
    tracker = HandTracker(max_num_hands=2)
    for frame in frames:
        hands = tracker.process(frame)
        assert len(hands) <= 2
        assert len({hand.id for hand in hands}) == len(hands)
    assert sorted(hand.id for hand in hands) == [0, 1]
    left, right = (hand.landmarks for hand in hands)
    assert median_pixel_error(left, right) > 20  # two different hands, not one hand twice


@pytest.mark.parametrize("name", NEGATIVE_IMAGES)
def test_no_hand_on_negative_images(static_tracker, name):
    assert static_tracker.process(load_rgb(name)) == []


def test_no_hand_in_negative_video():
    tracker = HandTracker()
    frames = read_video("negatives/cockatoo.mp4")
    assert sum(len(tracker.process(frame)) for frame in frames[::4]) == 0


def test_mirrored_swaps_handedness():
    image = load_rgb("hands/hand_left.jpg")
    plain = HandTracker(static_image_mode=True).process(image)[0]
    mirrored = HandTracker(static_image_mode=True, mirrored=True).process(image)[0]
    assert {plain.handedness, mirrored.handedness} == {"left", "right"}
    assert plain.handedness_score == pytest.approx(mirrored.handedness_score)
    # The hand flipped horizontally is the other hand, and the mirrored tracker says so.
    flipped = HandTracker(static_image_mode=True, mirrored=True).process(image[:, ::-1])[0]
    assert flipped.handedness == plain.handedness


def test_streams_are_tracked_independently_in_one_batch(video_frames):
    tracker = raw_tracker(max_num_hands=1)
    single = raw_tracker(max_num_hands=1)
    for frame in video_frames[100:110]:
        both = tracker.process_streams({"left_camera": frame, "right_camera": frame[:, ::-1]})
        alone = single.process(frame)
    assert both["left_camera"][0].id != both["right_camera"][0].id
    np.testing.assert_allclose(both["left_camera"][0].landmarks, alone[0].landmarks, atol=1e-3)


@pytest.mark.parametrize("image, message", [
    (np.zeros((10, 10, 3), np.float32), "uint8"),
    (np.full((10, 10, 3), np.nan), "NaN"),
    (np.zeros((10, 10), np.uint8), "grayscale"),
    (np.zeros((10, 10, 4), np.uint8), "RGBA"),
    (np.zeros((0, 10, 3), np.uint8), "empty"),
    (np.zeros((20000, 2, 3), np.uint8), "larger than"),
    ([[0, 0, 0]], "numpy array"),
])
def test_bad_images_raise_clear_value_errors(static_tracker, image, message):
    with pytest.raises(ValueError, match=message):
        static_tracker.process(image)


def test_bad_model_complexity_and_device_are_rejected():
    with pytest.raises(ValueError, match="model_complexity"):
        HandTracker(model_complexity=2)
    with pytest.raises(ValueError, match="device"):
        HandTracker(device="gpu")


def test_replacement_tracker_continues_the_ids(video_frames):
    first = HandTracker(max_num_hands=1)
    reported = first.process(video_frames[100])[0].id
    replacement = HandTracker(max_num_hands=1, model_complexity=0)
    replacement.continue_ids_after(first)
    assert replacement.process(video_frames[101])[0].id > reported


def test_crops_cut_in_parallel_equal_crops_cut_one_by_one(static_tracker):
    from hand_tracking_ros.landmarks import LandmarkModel

    images = [load_rgb("hands/victory.jpg"), load_rgb("hands/thumbs_up.png")]
    rects = np.array([[200.0, 150.0, 180.0, 180.0, 0.4], [100.0, 120.0, 90.0, 150.0, -2.0],
                      [50.0, 60.0, 400.0, 400.0, 3.0]])  # the last one mostly outside: replicated border
    indices = np.array([0, 1, 0])
    one_by_one = LandmarkModel(static_tracker.landmark_model.model, crop_threads=1).prepare(images, indices, rects)
    parallel = LandmarkModel(static_tracker.landmark_model.model, crop_threads=3).prepare(images, indices, rects)
    assert one_by_one.shape == (3, 3, 224, 224) and one_by_one.dtype == np.float32
    assert 0.0 <= one_by_one.min() and one_by_one.max() <= 1.0 and one_by_one.std() > 0.05
    np.testing.assert_array_equal(parallel, one_by_one)


def test_threads_also_bounds_the_crop_threads():
    assert HandTracker(model_complexity=0, threads=1).landmark_model.crop_threads == 1


TWO_HANDS = "hands/assorted/0.jpg"


def test_lowering_max_num_hands_caps_the_very_next_frame_and_keeps_the_oldest_track():
    image = load_rgb(TWO_HANDS)
    tracker = raw_tracker(max_num_hands=2, model_complexity=0)
    for _ in range(2):
        assert sorted(hand.id for hand in tracker.process(image)) == [0, 1]
    tracker.update(max_num_hands=1)  # what `ros2 param set max_num_hands 1` does
    assert [hand.id for hand in tracker.process(image)] == [0]
    assert [hand.id for hand in tracker.process(image)] == [0]
    tracker.max_num_hands = 2  # an assignment is an update too; the second hand comes back as a new track
    assert sorted(hand.id for hand in tracker.process(image)) == [0, 2]


def test_update_validates_everything_before_it_changes_anything():
    tracker = HandTracker(model_complexity=0)
    with pytest.raises(OptionError, match="max_num_hands must be from 1 to 10, got 99"):
        tracker.update(mirrored=True, max_num_hands=99)
    with pytest.raises(TypeError, match="unknown tracker option"):
        tracker.update(mirrored=True, max_hands=1)
    assert tracker.options == TrackerOptions(model_complexity=0)
    # Assigning an option is no way around the checks (a NaN threshold would never detect again).
    for name, value in (("detection_interval", float("nan")), ("min_detection_confidence", float("nan")),
                        ("min_tracking_iou", -0.5), ("max_num_hands", 1.5), ("max_num_hands", "2")):
        with pytest.raises(OptionError, match=f"^{name} must be"):
            setattr(tracker, name, value)
    assert tracker.options == TrackerOptions(model_complexity=0)
    with pytest.raises(OptionError, match="threads must be from 0 to 64, got 1000"):
        HandTracker(threads=1000)  # refused before anything is built
    assert HandTracker(TrackerOptions(max_num_hands=1), model_complexity=0).options == TrackerOptions(
        max_num_hands=1, model_complexity=0)


def test_only_model_options_load_models_and_no_change_ends_a_track(video_frames, tmp_path):
    tracker = HandTracker(max_num_hands=1)
    first_id = tracker.process(video_frames[100])[0].id
    models = tracker.landmark_model
    tracker.update(min_detection_confidence=0.6, detection_interval=2, mirrored=True, smoothing_beta=20,
                   gesture_hold_frames=5, min_presence_confidence=0.4)
    assert tracker.landmark_model is models
    assert tracker.process(video_frames[101])[0].id == first_id
    tracker.update(model_complexity=0)
    assert tracker.landmark_model is not models
    assert tracker.process(video_frames[102])[0].id == first_id  # the lite model goes on from the same crop
    # Models that cannot be loaded leave everything as it was.
    with pytest.raises(ModelFileError):
        tracker.update(models_dir=tmp_path, mirrored=False)
    assert tracker.options.models_dir == "" and tracker.mirrored is True
    assert tracker.process(video_frames[103])[0].id == first_id


def test_bad_timestamps_are_refused_before_inference_and_do_not_poison_the_track(video_frames):
    tracker = HandTracker(max_num_hands=1, model_complexity=0)
    tracker.process(video_frames[100], 0.0)
    runs = tracker.detector_runs
    for bad, message in ((float("nan"), "timestamp must be finite"), (float("inf"), "timestamp must be finite"),
                         ("0.04", "timestamp must be a number of seconds or None; got str '0.04'"),
                         (True, "timestamp must be a number")):
        with pytest.raises(ValueError, match=message):
            tracker.process(video_frames[101], bad)
    with pytest.raises(ValueError, match="timestamp must be finite"):
        tracker.process_streams({None: video_frames[101]}, {None: float("nan")})
    assert tracker.detector_runs == runs
    for index in range(101, 106):
        (hand,) = tracker.process(video_frames[index], np.float64(index / 25))
        assert hand.id == 0 and np.isfinite(hand.landmarks).all() and np.isfinite(hand.world_landmarks).all()


def test_threads_sharing_a_tracker_and_a_stream_are_serialised(video_frames):
    tracker = HandTracker(max_num_hands=1, model_complexity=0)
    frames = video_frames[100:120]  # the hand holds still: frames taken in any order show it in one place
    results, errors = [], []

    def run() -> None:
        try:
            for index, frame in enumerate(frames):
                results.append(tracker.process(frame))
                tracker.update(detection_interval=2 + index % 2)  # applied under the same lock
        except Exception as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 3 * len(frames)
    assert {hand.id for hands in results for hand in hands} == {0}
    assert all(len(hands) == 1 for hands in results)
