"""HandTracker: the MediaPipe Hands tracking loop with stable ids, for one or several image streams.

Per frame and stream (reference doc 1.7):
1. The crops tracked from the previous frame's landmarks are kept.
2. The palm detector runs only while fewer than ``max_num_hands`` hands are tracked (every frame in
   ``static_image_mode``). While at least one hand is tracked it looks for further hands only every
   ``detection_interval`` frames, an interval that doubles after each look that finds no new hand, up to
   ``max_detection_interval``, and starts again when a hand is found or lost (``_detector_due``): the
   detector costs more than a landmark inference, and a second hand entering the view a few frames later is
   an acceptable price for most of that time back. Its palms become
   crops, and a palm whose crop overlaps a tracked crop by axis-aligned IoU > ``min_tracking_iou`` is
   dropped: tracked crops win, so one hand is never reported twice. Unlike MediaPipe, the result is capped
   at ``max_num_hands``.
   Palms scoring from ``min_candidate_palm_confidence`` up to ``min_detection_confidence`` are candidates.
3. All crops of all streams go through the landmark model in one batched call; with ``refine_new_hands``
   the new crops go through it once more, cut from the tracking crop their first landmarks give (upright and
   tight), and keep the reading with the higher presence (``_read_new_hands``). Tracked crops are read once.
4. A crop whose presence score is under ``min_presence_confidence`` ends its track. A new hand needs its palm
   at ``min_detection_confidence`` and its first presence at ``min_presence_confidence`` (MediaPipe's rule),
   or else its best presence at ``min_candidate_presence``. Hands whose landmarks coincide with an earlier
   hand's are dropped (MediaPipe Tasks' landmark deduplication).
5. Survivors keep their track id (new hands get fresh ids, never reused) and their landmarks give the
   next frame's crops.
6. Per track: One Euro smoothing, handedness averaged over the track, the gesture, and the 3D pose where
   the stream has camera intrinsics (``_finish_hands``), fitted to the stream's aligned depth image when
   one comes with the frame (``depth_fusion``; without depth for a hand, the hand-model pose stays).

Options (``options.TrackerOptions``) are changed between frames through ``update(**changes)``, which validates
all changes before it applies any; assigning an option attribute calls it too. Only a model option loads the
models again (``loader``), and no change ends a track except a lower ``max_num_hands``, which ends the newest.
A lock serialises ``process``, ``process_streams``, ``update`` and the other methods that change tracks, so
threads may share a tracker.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field

import numpy as np

from .detector import palms_to_hand_rects
from .geometry import axis_aligned_iou, box_iou, to_rotated_rect
from .gestures import GestureStabilizer, classify_gestures
from .handedness import HandednessAverager
from .landmarks import tracking_rects
from .loader import load_models
from .options import OPTIONS, TrackerOptions, smoothing_options
from .depth_fusion import fuse_depth
from .pose import CameraIntrinsics, estimate_hand_pose
from .smoothing import LandmarkSmoother, OneEuroParams
from .types import Hand

LOGGER = logging.getLogger("hand_tracking_ros")

MAX_IMAGE_SIDE = 16384
# Landmark deduplication (hand_landmarks_deduplication_calculator.cc): a hand is a duplicate when at least
# this many landmarks lie within this fraction of the hand size of another hand's, and their boxes overlap.
DUPLICATE_MIN_LANDMARKS = 10
DUPLICATE_DISTANCE_FRACTION = 0.2
DUPLICATE_MIN_IOU = 0.2


def check_image(image) -> np.ndarray:
    """The image as a C-contiguous uint8 HxWx3 array, or a ValueError saying what is wrong with it."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array (H, W, 3) uint8 RGB; got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        hint = " (grayscale: convert with cv2.cvtColor(image, cv2.COLOR_GRAY2RGB))" if image.ndim == 2 else ""
        hint = " (RGBA: drop alpha with image[..., :3])" if image.ndim == 3 and image.shape[2] == 4 else hint
        raise ValueError(f"image must have shape (H, W, 3) RGB; got {image.shape}{hint}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty: shape {image.shape}")
    if max(image.shape[:2]) > MAX_IMAGE_SIDE:
        raise ValueError(f"image {image.shape[1]}x{image.shape[0]} is larger than {MAX_IMAGE_SIDE} pixels a side; "
                         "resize it first")
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
            raise ValueError("image contains NaN or infinite values")
        raise ValueError(f"image must be uint8 (0-255); got {image.dtype}. For float images in [0, 1] use "
                         "(image * 255).round().astype(np.uint8)")
    return np.ascontiguousarray(image)


def check_timestamp(timestamp) -> float | None:
    """The timestamp in seconds as a float (None stays None), or a ValueError saying what is wrong with it."""
    if timestamp is None:
        return None
    if isinstance(timestamp, (bool, np.bool_)) or not isinstance(timestamp, (int, float, np.integer, np.floating)):
        raise ValueError(f"timestamp must be a number of seconds or None; got {type(timestamp).__name__} "
                         f"{repr(timestamp)[:40]}")
    if not math.isfinite(timestamp):
        raise ValueError(f"timestamp must be finite; got {timestamp}")
    return float(timestamp)


def check_depth(depth) -> np.ndarray | None:
    """A depth image as an (H, W) array of uint16 millimetres or float metres (None stays None), or a
    ValueError saying what is wrong with it."""
    if depth is None:
        return None
    if not isinstance(depth, np.ndarray):
        raise ValueError(f"depth image must be a numpy array (H, W); got {type(depth).__name__}")
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2 or 0 in depth.shape:
        raise ValueError(f"depth image must have shape (H, W); got {depth.shape}")
    if depth.dtype != np.uint16 and not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f"depth image must be uint16 millimetres or float metres; got {depth.dtype}")
    return depth


def handedness_label(right_probability: float, mirrored: bool) -> tuple[str, float]:
    """Label and confidence from the model's P(right hand as seen in the image)."""
    is_right = right_probability >= 0.5
    if mirrored:
        is_right = not is_right
    return ("right" if is_right else "left"), float(max(right_probability, 1 - right_probability))


def duplicate_mask(landmarks: np.ndarray) -> np.ndarray:
    """(N,) True for hands whose landmarks repeat an earlier hand's (earlier hands win)."""
    count = len(landmarks)
    points = landmarks[:, :, :2].astype(np.float64)
    baselines = np.max(np.stack([np.linalg.norm(points[:, a] - points[:, b], axis=-1)
                                 for a, b in ((0, 5), (5, 17), (17, 0))]), axis=0)
    boxes = np.concatenate([points.min(axis=1), points.max(axis=1)], axis=1)
    iou = box_iou(boxes, boxes)
    duplicate = np.zeros(count, bool)
    for later in range(count):
        for earlier in range(later):
            if duplicate[earlier]:
                continue
            distances = np.linalg.norm(points[later] - points[earlier], axis=-1)
            threshold = DUPLICATE_DISTANCE_FRACTION * max(baselines[later], baselines[earlier])
            if (distances < threshold).sum() >= DUPLICATE_MIN_LANDMARKS and iou[later, earlier] > DUPLICATE_MIN_IOU:
                duplicate[later] = True
                break
    return duplicate


def check_stream_inputs(images: dict, timestamp: float | dict | None = None, depths: dict | None = None
                        ) -> tuple[dict, dict, dict]:
    """``process_streams``' arguments checked (ValueError for the first bad one) and normalised: the images
    as checked arrays, one checked timestamp per stream, the checked depth images."""
    checked = {key: check_image(image) for key, image in images.items()}
    depths = {key: check_depth(depth) for key, depth in (depths or {}).items()}
    imageless = depths.keys() - checked.keys()
    if imageless:
        raise ValueError(f"depths has stream {next(iter(imageless))!r}, which has no image")
    if isinstance(timestamp, dict):
        missing = [key for key in checked if key not in timestamp]
        if missing:
            raise ValueError(f"timestamp has no entry for stream {missing[0]!r}")
    timestamps = timestamp if isinstance(timestamp, dict) else dict.fromkeys(checked, timestamp)
    return checked, {key: check_timestamp(timestamps[key]) for key in checked}, depths


@dataclass
class StreamState:
    """Tracks of one image stream: ids and the crops their landmarks gave for the next frame."""

    track_ids: list[int] = field(default_factory=list)
    rects: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))
    # Detector schedule (_detector_due): images since the detector last ran on this stream, images to wait
    # before its next run, and the track ids it last saw (to notice a hand found or lost since).
    frames_since_detection: int = 0
    detection_gap: int = 1
    scheduled_ids: frozenset = frozenset()


class HandTracker:
    """Detects and tracks hands in RGB images. See the module docstring for the loop.

    ``HandTracker(options)`` takes a ``TrackerOptions``; keyword arguments name single options (see
    ``TrackerOptions``) and override ``options``. ``image_smoothing`` and ``world_smoothing`` set the One Euro
    parameters of the image or the world landmarks at once. Raises OptionError (a ValueError) for a bad value,
    ModelFileError or ProviderUnavailableError when the models cannot be loaded."""

    def __init__(self, options: TrackerOptions | None = None, *, image_smoothing: OneEuroParams | None = None,
                 world_smoothing: OneEuroParams | None = None, **changes):
        if options is None:
            options = TrackerOptions()
        elif not isinstance(options, TrackerOptions):
            raise TypeError(f"options must be TrackerOptions; got {type(options).__name__}")
        options = options.replace(**changes, **smoothing_options(image_smoothing, world_smoothing))
        self._lock = threading.Lock()         # one frame or one change at a time
        self._update_lock = threading.Lock()  # one update at a time; frames still run while models load
        self._options = options
        self._models = load_models(options)
        self.detector_runs = 0
        self._streams: dict[object, StreamState] = {}
        self._next_id = 0
        # Per-track post-processing in _finish_hands, all keyed by track id.
        self._smoother = LandmarkSmoother(options.image_smoothing, options.world_smoothing)
        self._handedness = HandednessAverager()
        self._gestures = GestureStabilizer(options.gesture_hold_frames)
        self._intrinsics: dict[object, CameraIntrinsics] = {}
        # Per stream: hands whose depth image fuse_depth refused (ValueError); they keep the hand-model pose.
        self.depth_errors: dict[object, int] = {}

    @property
    def options(self) -> TrackerOptions:
        """The current options (change them with ``update``)."""
        return self._options

    @property
    def detector(self):
        return self._models.detector

    @property
    def landmark_model(self):
        return self._models.landmark_model

    @property
    def execution_provider(self) -> str:
        return self._models.execution_provider

    def update(self, **changes) -> None:
        """Change options between frames: all ``changes`` are validated first (OptionError, or TypeError for
        an unknown name: then nothing changes) and applied together before the next frame.

        Models are loaded again only when a model option changes (``TrackerOptions.changes_models_from``),
        and before anything changes, so a ModelFileError or ProviderUnavailableError leaves the tracker as it
        was; meanwhile frames are still processed with the old models. Tracks continue through every change,
        except that a lower ``max_num_hands`` ends the newest tracks beyond it at once."""
        with self._update_lock:
            options = self._options.replace(**changes)
            if options == self._options:
                return
            models = load_models(options) if options.changes_models_from(self._options) else None
            with self._lock:
                self._options = options
                if models is not None:
                    self._models = models
                self._smoother.set_params(options.image_smoothing, options.world_smoothing)
                if not options.smoothing:
                    self._smoother.reset()  # so that switching smoothing back on starts from fresh landmarks
                self._gestures.hold_frames = options.gesture_hold_frames
                self._cap_tracks(options.max_num_hands)

    def continue_ids_after(self, previous: HandTracker) -> None:
        """Number new tracks after ``previous``'s, so that a tracker that replaces another one never reuses an
        id that has been reported."""
        with self._lock:
            self._next_id = max(self._next_id, previous._next_id)

    def reset(self) -> None:
        """Forget every track of every stream (ids are still never reused)."""
        with self._lock:
            ended = [track_id for state in self._streams.values() for track_id in state.track_ids]
            self._streams.clear()
            self._forget_tracks(ended)

    def _cap_tracks(self, max_num_hands: int) -> None:
        """End the newest tracks of each stream beyond ``max_num_hands`` (ids grow, so the oldest tracks have
        the lowest ids)."""
        ended = []
        for state in self._streams.values():
            if len(state.track_ids) > max_num_hands:
                keep = np.sort(np.argsort(state.track_ids, kind="stable")[:max_num_hands])
                ended += [track_id for index, track_id in enumerate(state.track_ids) if index not in keep]
                state.track_ids = [state.track_ids[index] for index in keep]
                state.rects = state.rects[keep]
        if ended:
            self._forget_tracks(ended)

    def end_stream(self, stream) -> None:
        """Forget one stream's tracks and intrinsics (a camera that left, a recording that ended); the other
        streams keep theirs."""
        with self._lock:
            state = self._streams.pop(stream, None)
            self._intrinsics.pop(stream, None)
            if state is not None and state.track_ids:
                self._forget_tracks(state.track_ids)

    def set_camera_intrinsics(self, intrinsics: CameraIntrinsics | None, stream=None) -> None:
        """Intrinsics of the camera of ``stream`` (``process`` uses stream None); with them each hand of that
        stream gets ``Hand.pose`` in the camera frame. ``None`` removes them (``Hand.pose`` is then None)."""
        if intrinsics is not None and not isinstance(intrinsics, CameraIntrinsics):
            raise TypeError(f"intrinsics must be a CameraIntrinsics or None; got {type(intrinsics).__name__} "
                            "(see CameraIntrinsics.from_camera_info)")
        with self._lock:
            if intrinsics is None:
                self._intrinsics.pop(stream, None)
            else:
                self._intrinsics[stream] = intrinsics

    def process(self, image_rgb: np.ndarray, timestamp: float | None = None) -> list[Hand]:
        """Hands in one RGB uint8 image of the default stream; ``timestamp`` in seconds (for smoothing)."""
        return self.process_streams({None: image_rgb}, timestamp)[None]

    def process_streams(self, images: dict, timestamp: float | dict | None = None, depths: dict | None = None
                        ) -> dict:
        """Hands in one image of each of several streams (for example cameras), keyed like ``images``.

        Each stream has its own tracks; the detector runs once for all streams that need it and the
        landmark model once for all crops of all streams. ``timestamp`` is in seconds, or a dict keyed like
        ``images`` for streams whose images were taken at different times (such as separate recordings).
        ``depths``: for streams with an RGB-D camera, its depth image registered to this colour image
        (uint16 millimetres or float metres, NaN or 0 where nothing was measured); with the stream's
        intrinsics each hand's pose then comes from it (``depth_fusion``). Bad images or depth images, or a
        timestamp that is not a finite number, raise ValueError before anything runs."""
        images, timestamps, depths = check_stream_inputs(images, timestamp, depths)
        with self._lock:
            return self._process_streams(list(images), list(images.values()), timestamps, depths)

    def _process_streams(self, keys: list, frames: list[np.ndarray], timestamps: dict, depths: dict) -> dict:
        options, models = self._options, self._models
        states = [self._streams.setdefault(key, StreamState()) for key in keys]
        if options.static_image_mode:
            # Every image stands alone: the previous image's hands end before this one is looked at.
            previous = [track_id for state in states for track_id in state.track_ids]
            for state in states:
                state.track_ids, state.rects = [], np.zeros((0, 5))
            if previous:
                self._forget_tracks(previous)

        # Crops of this frame: tracked ones first (they win over detections), then new palms, best first.
        crop_ids = [list(state.track_ids) for state in states]
        crop_rects = [state.rects for state in states]
        crop_confirmed = [np.ones(len(state.track_ids), bool) for state in states]  # by a palm score >= min_det.
        needs_detection = [index for index, state in enumerate(states) if self._detector_due(state, options)]
        if needs_detection:
            self.detector_runs += len(needs_detection)
            min_palm_score = min(options.min_detection_confidence, options.min_candidate_palm_confidence)
            palms = models.detector.detect([frames[index] for index in needs_detection], min_palm_score,
                                           tiles=options.tile_wide_images)
            for index, (scores, boxes, keypoints) in zip(needs_detection, palms):
                room = options.max_num_hands - len(crop_ids[index])
                palm_rects = palms_to_hand_rects(boxes, keypoints)
                kept = self._untracked(crop_rects[index], palm_rects)[:room]
                crop_rects[index] = np.concatenate([crop_rects[index], palm_rects[kept]])
                crop_ids[index] += [None] * len(kept)
                crop_confirmed[index] = np.concatenate([crop_confirmed[index],
                                                        scores[kept] >= options.min_detection_confidence])

        counts = [len(ids) for ids in crop_ids]
        all_rects = np.concatenate(crop_rects)
        image_indices = np.repeat(np.arange(len(keys)), counts)
        batch = models.landmark_model.run(frames, image_indices, all_rects) if len(all_rects) else None
        is_new = np.array([track_id is None for ids in crop_ids for track_id in ids], bool)
        accepted = (self._read_new_hands(frames, image_indices, all_rects, batch, is_new,
                                         np.concatenate(crop_confirmed)) if batch is not None else is_new)

        results = {}
        ended = []
        for index, (key, state, ids, offset) in enumerate(zip(keys, states, crop_ids, np.cumsum([0] + counts))):
            rows = np.arange(offset, offset + len(ids))
            if len(rows):
                present = accepted[rows]
                present[present] = ~duplicate_mask(batch.landmarks[rows[present]])
                rows, ids = rows[present], [track_id for track_id, alive in zip(ids, present) if alive]
            ended += [track_id for track_id in state.track_ids if track_id not in ids]
            track_ids = [self._new_id() if track_id is None else track_id for track_id in ids]
            state.track_ids = track_ids
            state.rects = tracking_rects(batch.landmarks[rows]) if len(rows) else np.zeros((0, 5))
            results[key] = [self._make_hand(track_id, batch, row, all_rects[row])
                            for track_id, row in zip(track_ids, rows)]
        if ended:
            self._forget_tracks(ended)
        return {key: self._finish_hands(hands, timestamps[key], key, frame.shape[1::-1], depths.get(key))
                for (key, hands), frame in zip(results.items(), frames)}

    def _detector_due(self, state: StreamState, options: TrackerOptions) -> bool:
        """Whether the detector runs on this stream's image now: always while no hand is tracked, never while
        max_num_hands are, and otherwise after ``state.detection_gap`` images. Each run doubles that gap, from
        detection_interval (unless 1) up to max_detection_interval; a hand found since the last look sets it back to
        detection_interval, and a hand lost does too, with a look at once (the detector is what finds it again,
        or a hand that took its place)."""
        tracked = frozenset(state.track_ids)
        if tracked != state.scheduled_ids:
            state.detection_gap = options.detection_interval
            if state.scheduled_ids - tracked:
                state.frames_since_detection = state.detection_gap
        state.scheduled_ids = tracked
        state.frames_since_detection += 1
        due = len(tracked) < options.max_num_hands and (
            not tracked or state.frames_since_detection >= state.detection_gap)
        if due:
            state.frames_since_detection = 0
            # detection_interval 1 is MediaPipe's rule, every image: it never grows.
            cap = options.max_detection_interval if options.detection_interval > 1 else 1
            state.detection_gap = max(options.detection_interval, min(2 * state.detection_gap, cap))
        return due

    def _untracked(self, tracked_rects: np.ndarray, new_rects: np.ndarray) -> np.ndarray:
        """Indices of the new crops that do not overlap a tracked crop by IoU > min_tracking_iou, nor an
        earlier kept new crop."""
        kept = []
        for index, rect in enumerate(new_rects):
            others = np.concatenate([tracked_rects, new_rects[kept]])
            if len(others) == 0 or axis_aligned_iou(rect[None], others).max() <= self._options.min_tracking_iou:
                kept.append(index)
        return np.array(kept, int)

    def _read_new_hands(self, frames: list[np.ndarray], image_indices: np.ndarray, rects: np.ndarray, batch,
                        is_new: np.ndarray, confirmed_palm: np.ndarray) -> np.ndarray:
        """Which crops hold a hand. A tracked crop does when its presence reaches min_presence_confidence. New
        crops are first read a second time (``refine_new_hands``) from the upright, tight crop their first
        landmarks give, the tracking crop, whose presence is often higher than the palm crop's when the palm
        was half-seen; the reading with the higher presence replaces the row of ``batch`` and of ``rects``.
        A new crop holds a hand when its palm scored min_detection_confidence and its first presence reaches
        min_presence_confidence (MediaPipe's rule), or else when its best presence reaches
        min_candidate_presence: a candidate palm or a weak first reading needs the landmark model's word."""
        options = self._options
        first_presence = batch.presence.copy()
        new_rows = np.flatnonzero(is_new)
        if options.refine_new_hands and len(new_rows):
            refined_rects = tracking_rects(batch.landmarks[new_rows])
            refined = self._models.landmark_model.run(frames, image_indices[new_rows], refined_rects)
            better = refined.presence > batch.presence[new_rows]
            batch.replace_rows(new_rows[better], refined, np.flatnonzero(better))
            rects[new_rows[better]] = refined_rects[better]
        confirmed = first_presence >= options.min_presence_confidence
        return np.where(is_new, (confirmed_palm & confirmed) | (batch.presence >= options.min_candidate_presence),
                        confirmed)

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _make_hand(self, track_id: int, batch, row: int, rect: np.ndarray) -> Hand:
        label, score = handedness_label(batch.right_hand[row], self._options.mirrored)
        return Hand(id=track_id, handedness=label, handedness_score=score, presence=float(batch.presence[row]),
                    landmarks=batch.landmarks[row], world_landmarks=batch.world_landmarks[row],
                    rect=to_rotated_rect(rect), frame_handedness=label, frame_handedness_score=score)

    def _finish_hands(self, hands: list[Hand], timestamp: float | None, stream, image_size: tuple[int, int],
                      depth: np.ndarray | None = None) -> list[Hand]:
        """Per-track post-processing of this frame's hands (ids assigned, raw landmarks): One Euro smoothing,
        handedness averaged over the track, the gesture held for ``gesture_hold_frames``, and the pose when
        the hand's stream has camera intrinsics, from ``depth`` where it has enough for the hand."""
        camera = self._intrinsics.get(stream)
        if camera is not None:
            camera = camera.for_image_size(*image_size)
        if self._options.smoothing:
            for hand in hands:
                hand.landmarks, hand.world_landmarks = self._smoother.smooth(
                    hand.id, hand.landmarks, hand.world_landmarks, timestamp)
        # All hands' gestures in one vectorized pass.
        gestures, scores = (classify_gestures(np.stack([hand.world_landmarks for hand in hands]))
                            if hands else ((), ()))
        for hand, gesture, score in zip(hands, gestures, scores):
            hand.handedness, hand.handedness_score = self._handedness.update(
                hand.id, hand.frame_handedness, hand.frame_handedness_score)
            # A still image has no following frames to hold a gesture over.
            hand.gesture, hand.gesture_score = ((gesture, float(score)) if self._options.static_image_mode
                                                else self._gestures.update(hand.id, gesture, float(score)))
            if camera is not None:
                hand.pose = estimate_hand_pose(hand.world_landmarks, hand.landmarks, camera)
                if depth is not None:
                    hand.pose = self._depth_pose(hand, camera, depth, stream) or hand.pose
        return hands

    def _depth_pose(self, hand: Hand, camera: CameraIntrinsics, depth: np.ndarray, stream):
        """``fuse_depth``'s pose of ``hand``, or None (the caller keeps the hand-model pose): too little
        depth on the hand, or a depth image it refuses (not registered to the colour image), which is
        counted in ``depth_errors`` and logged once per stream; it never fails the frame."""
        try:
            return fuse_depth(hand.world_landmarks, hand.landmarks, camera, depth)
        except ValueError as error:
            count = self.depth_errors.get(stream, 0)
            self.depth_errors[stream] = count + 1
            if not count:
                LOGGER.warning("stream %r: depth image not used, hand-model poses instead: %s; further ones "
                               "are counted in HandTracker.depth_errors", stream, error)
            return None

    def _forget_tracks(self, ended_ids: list[int]) -> None:
        """Called with the ids of tracks that ended, so per-track state can be dropped."""
        for per_track in (self._smoother, self._handedness, self._gestures):
            per_track.forget(ended_ids)


def _option_property(name: str) -> property:
    def get(tracker: HandTracker):
        return getattr(tracker.options, name)

    def set_(tracker: HandTracker, value) -> None:
        tracker.update(**{name: value})

    return property(get, set_, doc=f"{OPTIONS[name].description} Assigning it calls update({name}=...).")


# Each option reads as an attribute; an assignment goes through update(), so it is validated like any change.
for _name in OPTIONS:
    setattr(HandTracker, _name, _option_property(_name))
