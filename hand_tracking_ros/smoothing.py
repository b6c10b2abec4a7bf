"""Per-track One Euro smoothing of hand landmarks (reference doc 1.8).

MediaPipe's hand graphs do not smooth at all; its face and pose graphs use a One Euro filter
(``landmarks_smoothing_calculator``) whose speed is measured in object sizes per second for image
landmarks (values divided by the object scale = mean of the landmarks' bounding-box width and height in
pixels) and in metres per second for world landmarks (``disable_value_scaling``). This module does the same
with one filter state per track id, vectorized over the 21 landmarks.

Two differences:

* The speed of an image landmark is measured on the hand's motion as a whole, not on the landmark alone:
  the best similarity transform (shift, rotation, scale) from the last frame's raw landmarks to this
  frame's moves each landmark by its part of the hand's motion; the landmark's speed is the larger of that
  motion's speed and ``RESIDUAL_SPEED_WEIGHT`` times the speed of what is left over (the fingers moving
  within the hand). A fit over 21 points averages away most of the landmark model's own noise, which would
  otherwise read as motion and open the filter on a held hand, so the filter can hold a still hand harder
  and still let go at once when the hand sweeps, turns or the fingers move fast (benchmarks/jitter.py
  measures this against the per-landmark speed MediaPipe's filter uses).
* A landmark's coordinates share its speed; MediaPipe filters each coordinate with its own. Image z is
  MediaPipe's relative depth in units of the image width, which is not known here, so it cannot be scaled
  like x and y; it follows the landmark's image-plane speed instead, which also keeps x, y and z of one
  point in step. World landmarks keep the per-landmark speed (over x, y, z): they are centred on the hand,
  so its sweeps hardly move them.

A track's filter restarts (passes the raw landmarks through) when the track is new, when its timestamps
go backwards, repeat or are not finite, or when the hand jumps: its centre moves more than ``jump_threshold`` hand
sizes in one frame, which no real hand does at camera rates (the fastest motion in the test videos is about
0.35 hand sizes per frame) but a track taken over by another hand does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroParams:
    """One Euro filter parameters (Casiez et al. 2012): cutoff frequencies in Hz, ``beta`` in 1 / speed unit.

    The cutoff is ``min_cutoff + beta * speed``: ``min_cutoff`` sets the smoothing of a still hand (lower:
    less jitter), ``beta`` how quickly the filter lets go when the hand moves (higher: less lag)."""

    min_cutoff: float
    beta: float
    derivate_cutoff: float = 1.0

    def __post_init__(self):
        if not (self.min_cutoff > 0 and self.derivate_cutoff > 0 and self.beta >= 0):
            raise ValueError(f"One Euro parameters need min_cutoff > 0, derivate_cutoff > 0, beta >= 0: {self}")


# Defaults, from MediaPipe's shipped sets (face/pose image landmarks: min_cutoff 0.05, beta 80; pose world
# landmarks: 0.1, 40), chosen with benchmarks/jitter.py (every setting side by side, issue 11):
# - Image: with per-landmark speed (MediaPipe's) the landmark model's own noise (about 1.5% of the hand's
#   size per frame) reads as motion and opens the filter: beta 80 smooths a held hand only about 1.3x, and
#   lower betas that smooth it more lag on fast motion (beta 20: 2.0x less jitter than MediaPipe on the held
#   thumb-up, median 1.3 px from the unsmoothed landmarks on the clips sped up 3-4x; beta 15: 2.3x, 1.7 px).
#   The hand-motion speed (module docstring) at the same beta 20 keeps the 1.3 px median and gives 2.4x
#   (3.3x on second differences), every fast-clip frame within 12 px (26 px allowed). Beta 25: 2.2x and
#   1.1 px; without the fingers' term (weight 0) fast fingers fall up to 42 px behind. Per-hand centroid
#   speed, speed in pixels, a constant-velocity model, speed against the last output (Casiez et al.) and
#   a slower speed low-pass (its speed builds too slowly: 40-52 px behind a hand sweeping in at 25 fps)
#   measured worse.
# - World: beta 40 lags by about 1.4 frames on moving fingers (world landmarks move in metres per second,
#   slowly); beta 80 lags about 0.5 frame and still removes about 4x of the jitter.
IMAGE_SMOOTHING = OneEuroParams(min_cutoff=0.05, beta=20.0, derivate_cutoff=1.0)
# The speed of the fingers' motion within the hand counts at this weight against the hand's own motion:
# high enough that a fast finger (typing, a hand closing) opens the filter, low enough that the landmark
# model's per-landmark noise (on a held thumb-up about 1.4 times the hand's own jitter) does not; weight 1
# gives 2.1x on the held thumb-up, 0.3 lets fingers fall 18 px behind on the fast clips.
RESIDUAL_SPEED_WEIGHT = 0.5
WORLD_SMOOTHING = OneEuroParams(min_cutoff=0.1, beta=80.0, derivate_cutoff=1.0)
NOMINAL_FREQUENCY = 30.0  # Hz, the frame rate assumed when frames come without timestamps
JUMP_THRESHOLD = 1.0      # hand sizes per frame
# Frames closer in time than this are no real frame interval (a repeated or garbled stamp): the filter
# restarts rather than divide by almost nothing, which overflows the speed into infinities and NaN.
MIN_FRAME_INTERVAL = 1e-6  # seconds


def _alpha(cutoff: np.ndarray, dt: float) -> np.ndarray:
    """Exponential smoothing factor of a first-order low-pass filter with this cutoff (Hz) at step dt (s)."""
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """A One Euro filter over an (N, D) array of points, the cutoff of each point set by its own speed.

    ``speed_dims`` is how many leading coordinates the speed is measured over (3: world x, y, z)."""

    def __init__(self, params: OneEuroParams, speed_dims: int) -> None:
        self.params = params
        self.speed_dims = speed_dims
        self._raw: np.ndarray | None = None       # last raw values
        self._filtered: np.ndarray | None = None  # last output
        self._velocity: np.ndarray | None = None  # low-passed velocity, in scaled units per second

    def reset(self) -> None:
        self._raw = self._filtered = self._velocity = None

    def __call__(self, values: np.ndarray, dt: float, value_scale: float = 1.0) -> np.ndarray:
        """Filter this frame's ``values``; ``dt`` seconds since the last call; speed is measured on
        ``values * value_scale``."""
        values = np.asarray(values, np.float64)
        if self._raw is None:
            self._raw, self._filtered = values, values
            self._start(values)
            return values
        speed = self._speed(values, dt, value_scale)
        alpha = _alpha(self.params.min_cutoff + self.params.beta * speed, dt)
        self._filtered = self._filtered + alpha * (values - self._filtered)
        self._raw = values
        return self._filtered

    def _start(self, values: np.ndarray) -> None:
        self._velocity = np.zeros_like(values[..., :self.speed_dims])

    def _low_pass(self, previous: np.ndarray, velocity: np.ndarray, dt: float) -> np.ndarray:
        return previous + _alpha(self.params.derivate_cutoff, dt) * (velocity - previous)

    def _speed(self, values: np.ndarray, dt: float, value_scale: float) -> np.ndarray:
        """(N, 1) speed of each point, from its low-passed velocity."""
        velocity = (values - self._raw)[..., :self.speed_dims] * (value_scale / dt)
        self._velocity = self._low_pass(self._velocity, velocity, dt)
        return np.linalg.norm(self._velocity, axis=-1, keepdims=True)


def similarity_motion(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """``previous`` (N, 2) points moved by the similarity transform (shift, rotation, uniform scale) that
    best maps them onto ``current`` in least squares (closed form, Umeyama without reflection)."""
    # As complex numbers a similarity transform is z -> k z + t, and the least-squares k of centred points
    # is sum(conj(p) c) / sum(|p|^2).
    p = previous[:, 0] + 1j * previous[:, 1]
    c = current[:, 0] + 1j * current[:, 1]
    p_centre, c_centre = p.mean(), c.mean()
    p, c = p - p_centre, c - c_centre
    norm = np.vdot(p, p).real
    moved = (np.vdot(p, c) / norm * p if norm > 0.0 else p) + c_centre  # all on one spot: only the shift
    return np.column_stack([moved.real, moved.imag])


class HandMotionFilter(OneEuroFilter):
    """One Euro filter of a hand's image landmarks (21, D >= 2), each landmark's speed measured on the
    hand's motion as a whole (module docstring): the larger of its similarity-transform motion and
    ``residual_weight`` times the rest."""

    def __init__(self, params: OneEuroParams, residual_weight: float = RESIDUAL_SPEED_WEIGHT) -> None:
        super().__init__(params, speed_dims=2)
        self.residual_weight = residual_weight
        self._residual_velocity: np.ndarray | None = None

    def _start(self, values: np.ndarray) -> None:
        super()._start(values)
        self._residual_velocity = np.zeros_like(self._velocity)

    def _speed(self, values: np.ndarray, dt: float, value_scale: float) -> np.ndarray:
        previous, current = self._raw[:, :2], values[:, :2]
        moved = similarity_motion(previous, current)
        rate = value_scale / dt
        self._velocity = self._low_pass(self._velocity, (moved - previous) * rate, dt)
        self._residual_velocity = self._low_pass(self._residual_velocity, (current - moved) * rate, dt)
        return np.maximum(np.linalg.norm(self._velocity, axis=-1, keepdims=True),
                          self.residual_weight * np.linalg.norm(self._residual_velocity, axis=-1, keepdims=True))


def hand_scale(landmarks: np.ndarray) -> float:
    """Object scale of image landmarks as MediaPipe's GetObjectScale: mean of bounding-box width and height."""
    extent = np.ptp(np.asarray(landmarks)[:, :2], axis=0)
    return float(extent.mean())


class _TrackFilters:
    def __init__(self, image: OneEuroParams, world: OneEuroParams, residual_weight: float) -> None:
        self.image = HandMotionFilter(image, residual_weight)
        self.world = OneEuroFilter(world, speed_dims=3)
        self.timestamp: float | None = None
        self.center: np.ndarray | None = None


class LandmarkSmoother:
    """One Euro filters for the image and world landmarks of every track, keyed by track id.

    Call ``smooth`` once per frame for each tracked hand and ``forget`` with the ids of tracks that ended."""

    def __init__(self, image: OneEuroParams = IMAGE_SMOOTHING, world: OneEuroParams = WORLD_SMOOTHING,
                 jump_threshold: float = JUMP_THRESHOLD, nominal_frequency: float = NOMINAL_FREQUENCY,
                 residual_weight: float = RESIDUAL_SPEED_WEIGHT) -> None:
        if not (jump_threshold > 0 and nominal_frequency > 0):
            raise ValueError("jump_threshold and nominal_frequency must be positive")
        if not residual_weight >= 0:
            raise ValueError(f"residual_weight must be >= 0, got {residual_weight}")
        self.image_params = image
        self.residual_weight = residual_weight
        self.world_params = world
        self.jump_threshold = jump_threshold
        self.nominal_frequency = nominal_frequency
        self._tracks: dict[int, _TrackFilters] = {}

    def set_params(self, image: OneEuroParams, world: OneEuroParams) -> None:
        """New filter parameters, for the running tracks from their next frame on."""
        self.image_params, self.world_params = image, world
        for track in self._tracks.values():
            track.image.params, track.world.params = image, world

    def smooth(self, track_id: int, landmarks: np.ndarray, world_landmarks: np.ndarray,
               timestamp: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Smoothed (landmarks, world_landmarks) of one track for this frame, float32 like the input.

        ``timestamp`` in seconds; ``None`` assumes ``nominal_frequency``. A NaN or infinite timestamp restarts
        the track's filter, and the next frame counts as the first after it."""
        landmarks = np.asarray(landmarks, np.float64)
        world_landmarks = np.asarray(world_landmarks, np.float64)
        if not (np.isfinite(landmarks).all() and np.isfinite(world_landmarks).all()):
            # Never let a NaN into the filter state, where it would stay until the track ends.
            self.forget([track_id])
            return landmarks.astype(np.float32), world_landmarks.astype(np.float32)
        track = self._tracks.get(track_id)
        if track is None:
            track = self._tracks[track_id] = _TrackFilters(self.image_params, self.world_params, self.residual_weight)
        scale = max(hand_scale(landmarks), 1e-6)  # MediaPipe's min_allowed_object_scale
        center = landmarks[:, :2].mean(axis=0)
        if timestamp is None or track.timestamp is None:
            dt = 1.0 / self.nominal_frequency
        else:
            dt = float(timestamp) - track.timestamp
        jumped = track.center is not None and np.linalg.norm(center - track.center) > self.jump_threshold * scale
        if not MIN_FRAME_INTERVAL <= dt < np.inf or jumped:  # also a NaN dt: keep bad stamps out of the state
            track.image.reset()
            track.world.reset()
            dt = 1.0 / self.nominal_frequency
        track.timestamp = float(timestamp) if timestamp is not None and np.isfinite(timestamp) else None
        track.center = center
        smoothed = track.image(landmarks, dt, value_scale=1.0 / scale)
        smoothed_world = track.world(world_landmarks, dt)
        return smoothed.astype(np.float32), smoothed_world.astype(np.float32)

    def forget(self, track_ids: Iterable[int]) -> None:
        for track_id in track_ids:
            self._tracks.pop(track_id, None)

    def reset(self) -> None:
        self._tracks.clear()
