"""Per-track One Euro smoothing of hand landmarks (reference doc 1.8).

MediaPipe's hand graphs do not smooth at all; its face and pose graphs use a One Euro filter
(``landmarks_smoothing_calculator``) whose speed is measured in object sizes per second for image
landmarks (values divided by the object scale = mean of the landmarks' bounding-box width and height in
pixels) and in metres per second for world landmarks (``disable_value_scaling``). This module does the same
with one filter state per track id, vectorized over the 21 landmarks.

One difference: the adaptive cutoff of a landmark comes from the speed of the landmark (the norm of its
filtered velocity over x, y for image landmarks, x, y, z for world landmarks), and all its coordinates
share it; MediaPipe filters each coordinate with its own speed. Image z is MediaPipe's relative depth in
units of the image width, which is not known here, so it cannot be scaled like x and y; it follows the
landmark's image-plane speed instead, which also keeps x, y and z of one point in step.

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
# - Image: with beta 80 the hand's own jitter (about 1.5% of its size per frame) reads as motion and opens
#   the filter, so a held hand is smoothed by only about 1.3x. Beta 10 smooths it 2.7x but lags on fast
#   motion (median 2.3 px from the unsmoothed landmarks on the clips sped up 3-4x). Beta 20 keeps 2.0x
#   less jitter than MediaPipe on the held thumb-up (2.5x on second differences) with a median of 1.3 px
#   and every frame within 13.4 px on those fast clips; beta 25: 1.8x and 1.1 px. Per-hand speed (the
#   centroid's), a faster speed low-pass, speed in pixels rather than hand sizes, a constant-velocity
#   model and speed against the last output (Casiez et al.) measured no better for the same jitter (see
#   there; per-hand speed is up to 72 px off). A slower speed low-pass with a higher beta looks better on
#   the sped-up clips but its speed builds too slowly: up to 40-52 px behind a hand sweeping in at 25 fps.
# - World: beta 40 lags by about 1.4 frames on moving fingers (world landmarks move in metres per second,
#   slowly); beta 80 lags about 0.5 frame and still removes about 4x of the jitter.
IMAGE_SMOOTHING = OneEuroParams(min_cutoff=0.05, beta=20.0, derivate_cutoff=1.0)
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
    """A One Euro filter over an (N, D) array of points, the cutoff of each point set by its speed.

    ``speed_dims`` is how many leading coordinates the speed is measured over (2: image x, y)."""

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
            self._velocity = np.zeros_like(values)
            return values
        velocity = (values - self._raw) * (value_scale / dt)
        self._velocity = self._velocity + _alpha(self.params.derivate_cutoff, dt) * (velocity - self._velocity)
        speed = np.linalg.norm(self._velocity[..., :self.speed_dims], axis=-1, keepdims=True)
        alpha = _alpha(self.params.min_cutoff + self.params.beta * speed, dt)
        self._filtered = self._filtered + alpha * (values - self._filtered)
        self._raw = values
        return self._filtered


def hand_scale(landmarks: np.ndarray) -> float:
    """Object scale of image landmarks as MediaPipe's GetObjectScale: mean of bounding-box width and height."""
    extent = np.ptp(np.asarray(landmarks)[:, :2], axis=0)
    return float(extent.mean())


class _TrackFilters:
    def __init__(self, image: OneEuroParams, world: OneEuroParams) -> None:
        self.image = OneEuroFilter(image, speed_dims=2)
        self.world = OneEuroFilter(world, speed_dims=3)
        self.timestamp: float | None = None
        self.center: np.ndarray | None = None


class LandmarkSmoother:
    """One Euro filters for the image and world landmarks of every track, keyed by track id.

    Call ``smooth`` once per frame for each tracked hand and ``forget`` with the ids of tracks that ended."""

    def __init__(self, image: OneEuroParams = IMAGE_SMOOTHING, world: OneEuroParams = WORLD_SMOOTHING,
                 jump_threshold: float = JUMP_THRESHOLD, nominal_frequency: float = NOMINAL_FREQUENCY) -> None:
        if not (jump_threshold > 0 and nominal_frequency > 0):
            raise ValueError("jump_threshold and nominal_frequency must be positive")
        self.image_params = image
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
            track = self._tracks[track_id] = _TrackFilters(self.image_params, self.world_params)
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
