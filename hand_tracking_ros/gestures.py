"""Static hand gestures from finger states, as the MediaPipe Hands paper/blog describes.

Pipeline (all vectorized over any leading batch dimensions):

1. ``finger_bend_angles``: for each finger, the *accumulated* bend of its three joints, i.e. the sum of the
   angles between consecutive bones of the chain wrist -> MCP -> PIP -> DIP -> tip (thumb: wrist -> CMC ->
   MCP -> IP -> tip). About 20-70 deg for a straight finger, 150-300 deg for a curled one.
2. ``finger_states``: the probability that each finger is straight, a logistic function of that bend. The
   thumb also needs its tip away from the palm (thumb tip to ring MCP), because a thumb folded across the
   palm or laid along a fist stays nearly straight at its joints.
3. ``gesture_scores``: ``GESTURES`` is the table (data, not code) from finger patterns to names. A pattern is
   a 5-character string for thumb, index, middle, ring, pinky: ``1`` straight, ``0`` bent, ``x`` either. A
   pattern may carry a condition (a direction or a contact, see ``_conditions``). The score of a pattern is
   the product of the matching finger probabilities and of the condition probability (the joint
   probability if fingers are independent); a gesture's score is the best of its patterns. To add a
   gesture, add a row (and a condition if it needs one).
4. ``classify_gesture``: the best gesture if its score reaches ``min_score``, else ``None``.

Points may be 3D or 2D. The tracker passes **world landmarks** (metres, axes parallel to the camera axes),
so finger states do not depend on perspective or hand size; the same code works on 2D image points (for
example ``landmarks/keypoint.csv``, which has only x, y), less well for fingers pointing along the camera
axis: seen from behind, a finger pointing away and a curled one project alike (benchmarks/gesture_accuracy.py).

Directions: "up" is the camera's -y axis (image y points down, and world landmarks' y is parallel to it), so
``thumb_up``/``pointing_up`` mean "towards the top of the image", not against gravity: a rolled camera
rolls the meaning. Using world rather than image points also counts a finger pointing at the camera as
not up. A thumb up must also stick out above the rest of the hand (``THUMB_PROTRUSION``); a straight thumb
laid along a fist, or pointing sideways, is a fist.

Counting names and sign names: every finger pattern belongs to exactly one gesture, so there are no ties.
Patterns with no established sign name carry a counting name: ``one`` (index alone, not pointing up),
``three`` (thumb+index+middle or index+middle+ring), ``four`` (four fingers, thumb folded). Patterns that are
also a sign keep the sign name by default: open_palm is five, victory is two, pointing_up is one.
``counting=True`` renames those three to their numbers (``COUNTING_NAMES``), for a robot that takes numbers.
The thumb is ignored for pointing (``01000`` and ``11000``) because people point both ways.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

FINGER_NAMES = ("thumb", "index", "middle", "ring", "pinky")

# Landmark chains from the wrist to each fingertip; the bend is measured at the three inner joints of each.
_FINGER_CHAINS = np.array([
    [0, 1, 2, 3, 4],
    [0, 5, 6, 7, 8],
    [0, 9, 10, 11, 12],
    [0, 13, 14, 15, 16],
    [0, 17, 18, 19, 20],
])

# Accumulated bend (deg) at which a finger is as likely straight as bent, and the logistic width. Measured:
# straight fingers are below about 80 deg (95th percentile of Open rows in keypoint.csv: 68-85 deg; world
# landmarks of the "four" photos: 21-77 deg), curled fingers above 130 deg (5th percentile of Close rows:
# 105-173 deg; bent fingers in the call/rock photos: 128-250 deg).
STRAIGHT_BEND_DEG = 110.0
BEND_WIDTH_DEG = 12.0
# The thumb bends less when folded (only the MCP and IP joints flex much): extended thumbs in the call and
# thumb-up photos are 24-67 deg, folded ones 77-135 deg, so its threshold is lower.
THUMB_STRAIGHT_BEND_DEG = 90.0
# Thumb tip to ring-finger MCP over palm length (wrist to middle MCP): extended thumbs >= 0.79 on the call
# and thumb-up photos, folded across the palm (four, rock) <= 0.68.
THUMB_REACH = 0.7
THUMB_REACH_WIDTH = 0.06
# Thumb tip to index tip over palm length below which they touch (the OK ring); half the usual gap of an
# open hand.
TOUCH_DISTANCE = 0.3
TOUCH_WIDTH = 0.06
# A finger points "up" (or down) when its direction is within this angle of the camera's -y (+y) axis.
VERTICAL_CONE_DEG = 50.0
VERTICAL_WIDTH = 0.08  # logistic width on the cosine
# How far (palm lengths) a thumb-up tip rises above the rest of the hand: >= 0.44 on the thumb-up photos and
# video (world landmarks), <= 0.24 for 95% of the Close rows of keypoint.csv whose thumb lies along the fist.
THUMB_PROTRUSION = 0.35
THUMB_PROTRUSION_WIDTH = 0.04

# The gesture table: name -> alternative (pattern, condition) pairs. Patterns are thumb, index, middle,
# ring, pinky. Conditions are keys of the dict built by ``_conditions``. Together the rows cover each
# pattern at most once, and a pattern split by a condition is split into complementary parts (up / down /
# sideways), so exactly one gesture matches any clear hand.
GESTURES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "open_palm": (("11111", None),),
    "fist": (("00000", None), ("10000", "thumb_sideways")),  # a thumb laid along the fist is still a fist
    "thumb_up": (("10000", "thumb_up"),),
    "thumb_down": (("10000", "thumb_down"),),
    "pointing_up": (("01000", "index_up"), ("11000", "index_up")),
    "one": (("01000", "index_not_up"), ("11000", "index_not_up")),
    "victory": (("01100", None),),
    "three": (("11100", None), ("01110", None)),
    "four": (("01111", None),),
    "ok": (("x0111", "thumb_index_touch"),),
    "rock": (("01001", None),),
    "i_love_you": (("11001", None),),
    "call": (("10001", None),),
}

# Names used with ``counting=True`` for the signs that are also counts.
COUNTING_NAMES = {"open_palm": "five", "victory": "two", "pointing_up": "one"}

GESTURE_NAMES = tuple(GESTURES)

# Frames a gesture must hold before GestureStabilizer reports it: 100 ms at 30 fps, enough to hide the
# single-frame misreads while a hand changes shape.
HOLD_FRAMES = 3


def _unit(v: np.ndarray) -> np.ndarray:
    """Unit vectors along the last axis; zero vectors stay zero (no direction, no NaN)."""
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + exp(-x)) without overflow warnings


def _as_points(points: np.ndarray) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim < 2 or p.shape[-2] != 21 or p.shape[-1] not in (2, 3):
        raise ValueError(f"expected hand points of shape (..., 21, 2) or (..., 21, 3), got {p.shape}")
    return p


def finger_bend_angles(points: np.ndarray) -> np.ndarray:
    """Accumulated joint bend of each finger in degrees, shape (..., 5) for points (..., 21, 2|3).

    A zero-length bone (two landmarks projected onto one pixel) contributes no bend.
    """
    chains = _as_points(points)[..., _FINGER_CHAINS, :]  # (..., 5, 5, D)
    bones = _unit(np.diff(chains, axis=-2))              # (..., 5, 4, D)
    cos = np.sum(bones[..., :-1, :] * bones[..., 1:, :], axis=-1)
    cos = np.where(np.any(bones[..., :-1, :], -1) & np.any(bones[..., 1:, :], -1), cos, 1.0)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).sum(axis=-1)


def _palm_length(p: np.ndarray) -> np.ndarray:
    """Wrist to middle-finger MCP: the hand's size unit, stable while the fingers move."""
    return np.maximum(np.linalg.norm(p[..., 9, :] - p[..., 0, :], axis=-1), 1e-9)


def finger_states(points: np.ndarray) -> np.ndarray:
    """Probability that each finger (thumb, index, middle, ring, pinky) is straight, shape (..., 5)."""
    p = _as_points(points)
    bend = finger_bend_angles(p)
    straight = _sigmoid((STRAIGHT_BEND_DEG - bend) / BEND_WIDTH_DEG)
    thumb_reach = np.linalg.norm(p[..., 4, :] - p[..., 13, :], axis=-1) / _palm_length(p)
    straight[..., 0] = (_sigmoid((THUMB_STRAIGHT_BEND_DEG - bend[..., 0]) / BEND_WIDTH_DEG)
                        * _sigmoid((thumb_reach - THUMB_REACH) / THUMB_REACH_WIDTH))
    return straight


def _conditions(p: np.ndarray) -> dict[str, np.ndarray]:
    """Probabilities of the pattern conditions used in ``GESTURES``, each of shape (...)."""
    cone = np.cos(np.radians(VERTICAL_CONE_DEG))
    thumb_dir = _unit(p[..., 4, :] - p[..., 2, :])   # thumb MCP -> tip
    index_dir = _unit(p[..., 8, :] - p[..., 5, :])   # index MCP -> tip
    # The y component of a unit vector is the cosine of its angle to the +y (down) axis.
    # A thumb "up" must also stick out above the fist, not just lie along it: its tip above every other
    # landmark by THUMB_PROTRUSION palm lengths (a fist held upright has its thumb tip level with the
    # knuckles). Same downwards for thumb_down.
    palm = _palm_length(p)
    rest_y = np.delete(p[..., 1], [3, 4], axis=-1)
    above = (rest_y.min(axis=-1) - p[..., 4, 1]) / palm
    below = (p[..., 4, 1] - rest_y.max(axis=-1)) / palm
    thumb_up = (_sigmoid((-thumb_dir[..., 1] - cone) / VERTICAL_WIDTH)
                * _sigmoid((above - THUMB_PROTRUSION) / THUMB_PROTRUSION_WIDTH))
    thumb_down = (_sigmoid((thumb_dir[..., 1] - cone) / VERTICAL_WIDTH)
                  * _sigmoid((below - THUMB_PROTRUSION) / THUMB_PROTRUSION_WIDTH))
    index_up = _sigmoid((-index_dir[..., 1] - cone) / VERTICAL_WIDTH)
    touch = np.linalg.norm(p[..., 4, :] - p[..., 8, :], axis=-1) / palm
    return {
        "thumb_up": thumb_up,
        "thumb_down": thumb_down,
        "thumb_sideways": np.clip(1.0 - thumb_up - thumb_down, 0.0, 1.0),
        "index_up": index_up,
        "index_not_up": 1.0 - index_up,
        "thumb_index_touch": _sigmoid((TOUCH_DISTANCE - touch) / TOUCH_WIDTH),
    }


def _compile_gestures(gestures: dict[str, tuple[tuple[str, str | None], ...]], condition_names: tuple[str, ...]
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The table as arrays, so that every pattern of every hand is scored in a few numpy operations: per
    pattern, which fingers count and which of those must be straight, the index of its condition in
    ``condition_names`` (-1: none), and per gesture, which patterns are its alternatives."""
    rows = [(gesture, pattern, condition) for gesture, alternatives in enumerate(gestures.values())
            for pattern, condition in alternatives]
    counts = np.array([[state != "x" for state in pattern] for _, pattern, _ in rows])
    straight = np.array([[state == "1" for state in pattern] for _, pattern, _ in rows])
    conditions = np.array([-1 if condition is None else condition_names.index(condition) for _, _, condition in rows])
    alternatives = np.array([[gesture == row[0] for row in rows] for gesture in range(len(gestures))])
    return counts, straight, conditions, alternatives


# The keys of ``_conditions``, in the column order of the condition table built in ``gesture_scores``.
CONDITION_NAMES = ("thumb_up", "thumb_down", "thumb_sideways", "index_up", "index_not_up", "thumb_index_touch")
_PATTERN_COUNTS, _PATTERN_STRAIGHT, _PATTERN_CONDITION, _GESTURE_ALTERNATIVES = _compile_gestures(
    GESTURES, CONDITION_NAMES)


def gesture_scores(points: np.ndarray) -> np.ndarray:
    """Score in [0, 1] of every gesture in ``GESTURE_NAMES`` order, shape (..., len(GESTURES))."""
    p = _as_points(points)
    straight = finger_states(p)[..., None, :]  # (..., 1, 5) against (patterns, 5)
    finger_match = np.where(_PATTERN_STRAIGHT, straight, 1.0 - straight)
    pattern_scores = np.where(_PATTERN_COUNTS, finger_match, 1.0).prod(axis=-1)  # (..., patterns)
    conditions = _conditions(p)
    # A last column of ones, which the index -1 of patterns without a condition picks.
    condition_table = np.stack([conditions[name] for name in CONDITION_NAMES] + [np.ones(p.shape[:-2])], axis=-1)
    pattern_scores = pattern_scores * condition_table[..., _PATTERN_CONDITION]
    # Scores are >= 0, so putting 0 for the patterns of other gestures leaves each gesture its best pattern.
    return np.where(_GESTURE_ALTERNATIVES, pattern_scores[..., None, :], 0.0).max(axis=-1)


def classify_gestures(points: np.ndarray, min_score: float = 0.3,
                      counting: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Best gesture per hand for points (..., 21, 2|3): names (object array, ``None`` where no gesture
    reaches ``min_score``) and scores, both of shape (...)."""
    scores = gesture_scores(points)
    best = np.argmax(scores, axis=-1)
    best_score = np.take_along_axis(scores, best[..., None], axis=-1)[..., 0]
    names = np.array([COUNTING_NAMES.get(n, n) if counting else n for n in GESTURE_NAMES] + [None],
                     dtype=object)
    # NaN landmarks give NaN scores, which fail the comparison and so give no gesture.
    names = np.asarray(names[np.where(best_score >= min_score, best, len(GESTURE_NAMES))], dtype=object)
    return names, np.nan_to_num(best_score)


def classify_gesture(points: np.ndarray, min_score: float = 0.3,
                     counting: bool = False) -> tuple[str | None, float]:
    """Best gesture of one hand (21, 2|3) and its score; ``(None, score)`` when no gesture reaches
    ``min_score``. Pass world landmarks when you have them (see the module doc)."""
    p = _as_points(points)
    if p.ndim != 2:
        raise ValueError(f"classify_gesture takes one hand (21, 2|3), got {p.shape}; use classify_gestures")
    names, scores = classify_gestures(p, min_score, counting)
    return names.item(), float(scores)


@dataclass
class _HeldGesture:
    candidate: str | None         # this frame's gesture
    frames: int = 0               # consecutive frames it has held
    name: str | None = None       # the gesture reported (the last one that held long enough)
    score: float = 0.0


class GestureStabilizer:
    """Reports a track's gesture only once it has held for ``hold_frames`` consecutive frames.

    Until a new gesture has held that long, the last confirmed one stays (so a single misread frame does not
    flicker the output); at the start of a track nothing is reported. ``hold_frames=1`` passes gestures
    through. State is per track id; call ``forget`` with the ids of ended tracks.
    """

    def __init__(self, hold_frames: int = HOLD_FRAMES) -> None:
        if int(hold_frames) < 1:
            raise ValueError(f"hold_frames must be >= 1, got {hold_frames}")
        self.hold_frames = int(hold_frames)
        self._state: dict[int, _HeldGesture] = {}

    def update(self, track_id: int, name: str | None, score: float) -> tuple[str | None, float]:
        """This frame's raw gesture of a track in, the stable gesture and its score out."""
        state = self._state.setdefault(track_id, _HeldGesture(candidate=name))
        if name == state.candidate:
            state.frames += 1
        else:
            state.candidate, state.frames = name, 1
        if state.frames >= self.hold_frames:
            state.name, state.score = name, (float(score) if name is not None else 0.0)
        return state.name, state.score

    def forget(self, track_ids: Iterable[int]) -> None:
        for track_id in track_ids:
            self._state.pop(track_id, None)

    def reset(self) -> None:
        self._state.clear()
