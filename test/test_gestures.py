"""Gestures from finger states, on real landmarks (keypoint.csv) and real photos through HandTracker."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import DATA_DIR, load_rgb, read_video
from gesture_accuracy import (keypoint_accuracy, keypoint_predictions, photo_prediction,  # benchmarks/
                              photo_predictions, seen_from_behind)

from hand_tracking_ros import HandTracker
from hand_tracking_ros.gestures import (COUNTING_NAMES, GESTURE_NAMES, GESTURES, HOLD_FRAMES, GestureStabilizer,
                                        _conditions, classify_gesture, classify_gestures, finger_bend_angles,
                                        finger_states, gesture_scores)

THUMB_UP_PHOTOS = ("hands/thumb_up_2.jpg", "hands/thumbs_up.png", "hands/hand_left.jpg")


@pytest.fixture(scope="module")
def keypoints():
    return keypoint_predictions()


@pytest.fixture(scope="module")
def static_tracker():
    return HandTracker(static_image_mode=True, max_num_hands=2)


@pytest.fixture(scope="module")
def photo_rows(static_tracker):
    return photo_predictions(static_tracker)


def test_keypoint_csv_accuracy_floors(keypoints):
    labels, names, points = keypoints
    accuracy = keypoint_accuracy(labels, names)
    assert accuracy["Open"] >= 0.9
    assert accuracy["Close"] >= 0.9
    # Pointer: 120 of its 1356 rows show a hand from behind pointing away, where a pointing and a curled
    # index look the same in 2D (no row of them is right); on the other rows the floor is 0.9.
    assert accuracy["Pointer"] >= 0.8
    pointer = (labels == "Pointer") & ~seen_from_behind(points)
    assert np.isin(names[pointer], ["pointing_up", "one"]).mean() >= 0.9


def test_pointing_up_turns_into_one_when_the_hand_turns(keypoints):
    labels, names, points = keypoints
    upright = points[(labels == "Pointer") & (names == "pointing_up")]
    assert len(upright) > 400
    # The same real hands turned 90 degrees: the index now points sideways, which is "one".
    turned = upright @ np.array([[0.0, -1.0], [1.0, 0.0]])
    assert np.mean(classify_gestures(turned)[0] == "one") >= 0.9


@pytest.mark.parametrize("label", ["rock", "four", "call"])
def test_gesture_photos_are_recognised_whenever_a_hand_is_found(static_tracker, label):
    label_index = GESTURE_NAMES.index(label)
    found, ambiguous = 0, []
    for path in sorted((DATA_DIR / "gestures" / label).glob("*.jpg")):
        hands = static_tracker.process(load_rgb(path.relative_to(DATA_DIR)))
        if not hands:
            continue
        found += 1
        scores = np.array([gesture_scores(hand.world_landmarks) for hand in hands])
        shown = scores[scores[:, label_index].argmax()]  # the hand that shows the label best
        # A hand between two gestures (one call photo: call 0.421, thumb_up 0.419) may go either way with
        # the CPU; only clear photos must be named right, and such photos must stay the exception.
        if abs(shown[label_index] - np.delete(shown, label_index).max()) < 0.1:
            ambiguous.append(path.name)
            continue
        assert photo_prediction(hands)[0] == label, (path.name, photo_prediction(hands)[1])
    assert found >= 8  # the tracker misses the hand in at most 2 of the 10 photos
    assert len(ambiguous) <= 1, ambiguous


def test_photos_of_no_listed_gesture_rarely_get_one(photo_rows):
    none = [row for row in photo_rows if row[0] == "none"]
    assert sum(predicted != "none" for _, predicted, _, _ in none) <= 1


@pytest.mark.parametrize("name", THUMB_UP_PHOTOS)
def test_thumb_up_down_and_sideways_on_real_photos(static_tracker, name):
    image = load_rgb(name)
    assert static_tracker.process(image)[0].gesture == "thumb_up"
    assert static_tracker.process(np.ascontiguousarray(image[::-1]))[0].gesture == "thumb_down"
    # Turned a quarter turn the thumb points sideways: a fist with the thumb laid along it.
    assert static_tracker.process(np.ascontiguousarray(np.rot90(image)))[0].gesture == "fist"


def test_video_gesture_is_stable_while_held():
    """A held thumb-up is reported as thumb_up wherever the classifier is sure of it.

    The thumb of this video leans over: for about a fifth of the held frames thumb_up beats fist by under
    0.1, and random noise of one or two grey levels in the input moves that margin by up to 0.14 or 0.21
    (another CPU turned 11 of those frames into fist). So the test asserts nothing about a score that
    close to another: it reads each frame's own unstabilized scores and checks the reported gesture only
    where they are clear, with tolerances far from what was measured.
    """
    tracker = HandTracker(max_num_hands=1, gesture_hold_frames=HOLD_FRAMES)
    frames = read_video("videos/thumbs_up_1280x720.mp4")
    reported, scores = [], []
    for index, frame in enumerate(frames):
        hands = tracker.process(frame, index / 30)
        if index >= 70:  # the thumb is up and held from about frame 65 to the end
            assert len(hands) == 1, index
            reported.append(hands[0].gesture)
            # The tracker scores the hand's world landmarks as they are returned.
            scores.append(gesture_scores(hands[0].world_landmarks))
    scores = np.array(scores)
    thumb_up, fist = GESTURE_NAMES.index("thumb_up"), GESTURE_NAMES.index("fist")
    # Every held frame is a fist with its thumb up or laid along it (the two scores add up to 0.96-0.98;
    # every other gesture under 0.001), so nothing else is ever reported, and never no gesture.
    assert (scores[:, thumb_up] + scores[:, fist] >= 0.8).all()
    assert set(reported) <= {"thumb_up", "fist"}
    ranked = np.sort(scores, axis=1)
    clear = (scores.argmax(axis=1) == thumb_up) & (ranked[:, -1] - ranked[:, -2] >= 0.1)
    assert clear.mean() >= 0.6  # 95-108 of the 125 frames, with and without noise added to the input
    # Once thumb_up has been clear for the hold, the stabilizer reports it, whatever came before.
    for index in range(HOLD_FRAMES - 1, len(reported)):
        if clear[index - HOLD_FRAMES + 1:index + 1].all():
            assert reported[index] == "thumb_up", index


def test_world_and_image_landmarks_agree_on_finger_states(static_tracker):
    hand = static_tracker.process(load_rgb("hands/thumb_up_2.jpg"))[0]
    # A thumb-up seen from the side: both views say thumb straight, the other four curled.
    for points in (hand.world_landmarks, hand.landmarks[:, :2]):
        np.testing.assert_array_equal(finger_states(points) > 0.5, [True, False, False, False, False])


def test_gesture_table_is_unambiguous():
    """Each finger pattern belongs to one gesture, except patterns split by complementary conditions."""
    families = {"thumb_up": "thumb", "thumb_down": "thumb", "thumb_sideways": "thumb",
                "index_up": "index", "index_not_up": "index", "thumb_index_touch": "touch"}
    assert set(families) == set(_conditions(np.random.default_rng(0).normal(size=(21, 3))))
    owners: dict[str, list[tuple[str, str | None]]] = {}
    for name, alternatives in GESTURES.items():
        for pattern, condition in alternatives:
            assert len(pattern) == 5 and set(pattern) <= set("01x"), pattern
            assert condition is None or condition in families, condition
            for expanded in itertools.product(*[("0", "1") if c == "x" else (c,) for c in pattern]):
                owners.setdefault("".join(expanded), []).append((name, condition))
    for pattern, claims in owners.items():
        if len(claims) > 1:
            conditions = [condition for _, condition in claims]
            assert None not in conditions, (pattern, claims)
            assert len({families[c] for c in conditions if c != "thumb_index_touch"}) <= 1, (pattern, claims)
    required = {"open_palm", "fist", "thumb_up", "thumb_down", "pointing_up", "victory", "ok", "rock",
                "i_love_you", "call", "one", "three", "four"}
    assert required <= set(GESTURE_NAMES)
    assert {COUNTING_NAMES[name] for name in ("pointing_up", "victory", "open_palm")} == {"one", "two", "five"}


def test_counting_names(keypoints):
    labels, _, points = keypoints
    open_hand = points[labels == "Open"][0]
    assert classify_gesture(open_hand)[0] == "open_palm"
    assert classify_gesture(open_hand, counting=True)[0] == "five"


def test_batches_scores_and_bad_input(keypoints):
    _, names, points = keypoints
    batch_names, scores = classify_gestures(points[:50].reshape(5, 10, 21, 2))
    assert batch_names.shape == scores.shape == (5, 10)
    assert list(batch_names.ravel()) == list(names[:50])
    assert ((scores >= 0) & (scores <= 1)).all()
    assert finger_bend_angles(points[:3]).shape == (3, 5)
    assert classify_gesture(np.full((21, 3), np.nan)) == (None, 0.0)
    with pytest.raises(ValueError, match="21"):
        classify_gesture(np.zeros((20, 3)))
    with pytest.raises(ValueError, match="one hand"):
        classify_gesture(points[:2])


def test_stabilizer_holds_gestures_and_forgets_tracks():
    stabilizer = GestureStabilizer(hold_frames=3)
    sequence = ["fist", "fist", "fist", "open_palm", "fist", "open_palm", "open_palm", "open_palm"]
    reported = [stabilizer.update(7, name, 0.9)[0] for name in sequence]
    # Nothing until fist held 3 frames; a single open_palm frame does not flicker the output.
    assert reported == [None, None, "fist", "fist", "fist", "fist", "fist", "open_palm"]
    assert stabilizer.update(8, "fist", 0.8) == (None, 0.0)  # each track has its own history
    stabilizer.forget([7])
    assert stabilizer.update(7, "open_palm", 0.9) == (None, 0.0)  # a forgotten id starts over
    assert GestureStabilizer(hold_frames=1).update(1, "ok", 0.7) == ("ok", 0.7)
    with pytest.raises(ValueError, match="hold_frames"):
        GestureStabilizer(hold_frames=0)
