"""HandTracker: the MediaPipe Hands tracking loop with stable ids, for one or several image streams.

Per frame and stream (reference doc 1.7):
1. The crops tracked from the previous frame's landmarks are kept.
2. The palm detector runs only while fewer than ``max_num_hands`` hands are tracked (every frame in
   ``static_image_mode``). While at least one hand is tracked it looks for further hands only every
   ``detection_interval`` frames: the detector costs more than a landmark inference, and a second hand entering
   the view a frame or two later is an acceptable price for most of that time back. Its palms become
   crops, and a palm whose crop overlaps a tracked crop by axis-aligned IoU > ``min_tracking_iou`` is
   dropped: tracked crops win, so one hand is never reported twice. Unlike MediaPipe, the result is capped
   at ``max_num_hands``.
3. All crops of all streams go through the landmark model in one batched call.
4. A crop whose presence score is under ``min_presence_confidence`` ends its track. Hands whose landmarks
   coincide with an earlier hand's are dropped (MediaPipe Tasks' landmark deduplication).
5. Survivors keep their track id (new hands get fresh ids, never reused) and their landmarks give the
   next frame's crops.
6. Per track: One Euro smoothing, handedness averaged over the track, the gesture, and the 3D pose where
   the stream has camera intrinsics (``_finish_hands``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .backend import OnnxModel, check_device
from .detector import PalmDetector, palms_to_hand_rects
from .geometry import axis_aligned_iou, box_iou, to_rotated_rect
from .gestures import HOLD_FRAMES, GestureStabilizer, classify_gestures
from .handedness import HandednessAverager
from .landmarks import LandmarkModel, tracking_rects
from .models import HAND_LANDMARK, PALM_DETECTION, load_model_bytes
from .pose import CameraIntrinsics, estimate_hand_pose
from .smoothing import IMAGE_SMOOTHING, WORLD_SMOOTHING, LandmarkSmoother, OneEuroParams
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


@dataclass
class StreamState:
    """Tracks of one image stream: ids and the crops their landmarks gave for the next frame."""

    track_ids: list[int] = field(default_factory=list)
    rects: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))
    frames_since_detection: int = 0


class HandTracker:
    """Detects and tracks hands in RGB images. See the module docstring for the loop."""

    def __init__(self, max_num_hands: int = 2, min_detection_confidence: float = 0.5,
                 min_presence_confidence: float = 0.5, min_tracking_iou: float = 0.5, model_complexity: int = 1,
                 static_image_mode: bool = False, mirrored: bool = False, device: str = "auto",
                 detection_interval: int = 3, models_dir=None, threads: int = 0,
                 smoothing: bool = True, image_smoothing: OneEuroParams = IMAGE_SMOOTHING,
                 world_smoothing: OneEuroParams = WORLD_SMOOTHING, gesture_hold_frames: int = HOLD_FRAMES):
        if model_complexity not in (0, 1):
            raise ValueError(f"model_complexity must be 0 (lite) or 1 (full); got {model_complexity!r}")
        if int(max_num_hands) < 1 or int(detection_interval) < 1:
            raise ValueError(f"max_num_hands and detection_interval must be at least 1; got {max_num_hands}, "
                             f"{detection_interval}")
        for name, value in (("min_detection_confidence", min_detection_confidence),
                            ("min_presence_confidence", min_presence_confidence),
                            ("min_tracking_iou", min_tracking_iou)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]; got {value}")
        device = check_device(device)
        self.max_num_hands = max_num_hands
        self.min_detection_confidence = min_detection_confidence
        self.min_presence_confidence = min_presence_confidence
        self.min_tracking_iou = min_tracking_iou
        self.static_image_mode = static_image_mode
        self.mirrored = mirrored
        self.detection_interval = detection_interval
        self.model_complexity = model_complexity
        palm_model = OnnxModel(*load_model_bytes(PALM_DETECTION[model_complexity], models_dir), device, threads)
        landmark_model = OnnxModel(*load_model_bytes(HAND_LANDMARK[model_complexity], models_dir), device, threads)
        self.detector = PalmDetector(palm_model)
        self.landmark_model = LandmarkModel(landmark_model, crop_threads=threads)
        self.execution_provider = landmark_model.provider
        self.detector_runs = 0
        self._streams: dict[object, StreamState] = {}
        self._next_id = 0
        # Per-track post-processing in _finish_hands, all keyed by track id. ``smoothing`` may be switched
        # between frames like the other plain attributes.
        self.smoothing = smoothing
        self._smoother = LandmarkSmoother(image_smoothing, world_smoothing)
        self._handedness = HandednessAverager()
        self._gestures = GestureStabilizer(gesture_hold_frames)
        self._intrinsics: dict[object, CameraIntrinsics] = {}

    def continue_ids_after(self, previous: HandTracker) -> None:
        """Number new tracks after ``previous``'s, so that a tracker that replaces another one (new models or
        device) never reuses an id that has been reported."""
        self._next_id = max(self._next_id, previous._next_id)

    def reset(self) -> None:
        """Forget every track of every stream (ids are still never reused)."""
        ended = [track_id for state in self._streams.values() for track_id in state.track_ids]
        self._streams.clear()
        self._forget_tracks(ended)

    def set_camera_intrinsics(self, intrinsics: CameraIntrinsics | None, stream=None) -> None:
        """Intrinsics of the camera of ``stream`` (``process`` uses stream None); with them each hand of that
        stream gets ``Hand.pose`` in the camera frame. ``None`` removes them (``Hand.pose`` is then None)."""
        if intrinsics is None:
            self._intrinsics.pop(stream, None)
        elif isinstance(intrinsics, CameraIntrinsics):
            self._intrinsics[stream] = intrinsics
        else:
            raise TypeError(f"intrinsics must be a CameraIntrinsics or None; got {type(intrinsics).__name__} "
                            "(see CameraIntrinsics.from_camera_info)")

    def process(self, image_rgb: np.ndarray, timestamp: float | None = None) -> list[Hand]:
        """Hands in one RGB uint8 image of the default stream; ``timestamp`` in seconds (for smoothing)."""
        return self.process_streams({None: image_rgb}, timestamp)[None]

    def process_streams(self, images: dict, timestamp: float | None = None) -> dict:
        """Hands in one image of each of several streams (for example cameras), keyed like ``images``.

        Each stream has its own tracks; the detector runs once for all streams that need it and the
        landmark model once for all crops of all streams."""
        keys = list(images)
        frames = [check_image(images[key]) for key in keys]
        states = [self._streams.setdefault(key, StreamState()) for key in keys]
        if self.static_image_mode:
            # Every image stands alone: the previous image's hands end before this one is looked at.
            previous = [track_id for state in states for track_id in state.track_ids]
            for state in states:
                state.track_ids, state.rects = [], np.zeros((0, 5))
            if previous:
                self._forget_tracks(previous)

        # Crops of this frame: tracked ones first (they win over detections), then new palms.
        crop_ids = [list(state.track_ids) for state in states]
        crop_rects = [state.rects for state in states]
        needs_detection = [index for index, state in enumerate(states) if self._detector_due(state)]
        if needs_detection:
            self.detector_runs += len(needs_detection)
            palms = self.detector.detect([frames[index] for index in needs_detection], self.min_detection_confidence)
            for index, (_, boxes, keypoints) in zip(needs_detection, palms):
                room = self.max_num_hands - len(crop_ids[index])
                new_rects = self._drop_tracked(crop_rects[index], palms_to_hand_rects(boxes, keypoints))[:room]
                crop_rects[index] = np.concatenate([crop_rects[index], new_rects])
                crop_ids[index] += [None] * len(new_rects)

        counts = [len(ids) for ids in crop_ids]
        all_rects = np.concatenate(crop_rects)
        batch = (self.landmark_model.run(frames, np.repeat(np.arange(len(keys)), counts), all_rects)
                 if len(all_rects) else None)

        results = {}
        ended = []
        for index, (key, state, ids, offset) in enumerate(zip(keys, states, crop_ids, np.cumsum([0] + counts))):
            rows = np.arange(offset, offset + len(ids))
            if len(rows):
                present = batch.presence[rows] >= self.min_presence_confidence
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
        return {key: self._finish_hands(hands, timestamp, key, frame.shape[1::-1])
                for (key, hands), frame in zip(results.items(), frames)}

    def _detector_due(self, state: StreamState) -> bool:
        state.frames_since_detection += 1
        due = len(state.track_ids) < self.max_num_hands and (
            not state.track_ids or state.frames_since_detection >= self.detection_interval)
        if due:
            state.frames_since_detection = 0
        return due

    def _drop_tracked(self, tracked_rects: np.ndarray, new_rects: np.ndarray) -> np.ndarray:
        """New crops that do not overlap a tracked crop by IoU > min_tracking_iou, nor an earlier new crop."""
        kept = np.zeros((0, 5))
        for rect in new_rects:
            others = np.concatenate([tracked_rects, kept])
            if len(others) == 0 or axis_aligned_iou(rect[None], others).max() <= self.min_tracking_iou:
                kept = np.concatenate([kept, rect[None]])
        return kept

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _make_hand(self, track_id: int, batch, row: int, rect: np.ndarray) -> Hand:
        label, score = handedness_label(batch.right_hand[row], self.mirrored)
        return Hand(id=track_id, handedness=label, handedness_score=score, presence=float(batch.presence[row]),
                    landmarks=batch.landmarks[row], world_landmarks=batch.world_landmarks[row],
                    rect=to_rotated_rect(rect), frame_handedness=label, frame_handedness_score=score)

    def _finish_hands(self, hands: list[Hand], timestamp: float | None, stream, image_size: tuple[int, int]
                      ) -> list[Hand]:
        """Per-track post-processing of this frame's hands (ids assigned, raw landmarks): One Euro smoothing,
        handedness averaged over the track, the gesture held for ``gesture_hold_frames``, and the pose when
        the hand's stream has camera intrinsics."""
        if not self.smoothing:
            self._smoother.reset()  # so that switching smoothing back on starts from fresh landmarks
        camera = self._intrinsics.get(stream)
        if camera is not None:
            camera = camera.for_image_size(*image_size)
        for hand in hands:
            if self.smoothing:
                hand.landmarks, hand.world_landmarks = self._smoother.smooth(
                    hand.id, hand.landmarks, hand.world_landmarks, timestamp)
        # All hands' gestures in one vectorized pass.
        gestures, scores = (classify_gestures(np.stack([hand.world_landmarks for hand in hands]))
                            if hands else ((), ()))
        for hand, gesture, score in zip(hands, gestures, scores):
            hand.handedness, hand.handedness_score = self._handedness.update(
                hand.id, hand.frame_handedness, hand.frame_handedness_score)
            # A still image has no following frames to hold a gesture over.
            hand.gesture, hand.gesture_score = ((gesture, float(score)) if self.static_image_mode
                                                else self._gestures.update(hand.id, gesture, float(score)))
            if camera is not None:
                hand.pose = estimate_hand_pose(hand.world_landmarks, hand.landmarks, camera)
        return hands

    def _forget_tracks(self, ended_ids: list[int]) -> None:
        """Called with the ids of tracks that ended, so per-track state can be dropped."""
        for per_track in (self._smoother, self._handedness, self._gestures):
            per_track.forget(ended_ids)
