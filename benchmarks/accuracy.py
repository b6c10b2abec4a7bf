#!/usr/bin/env python3
"""Accuracy on labelled hands and false hands on images without any, for each pipeline side by side:
ours with its defaults, ours with one stage of issue 11 at a time, ours with MediaPipe's rules
(``options.MEDIAPIPE_OPTIONS``), ours with the detector's tiles of wide images (``tile_wide_images``), and
MediaPipe 0.10.21 itself when it is installed.

* Labelled hands: ../shared/data/labelled_dev (7 images, 9 hands; see its README), static image mode,
  max_num_hands 2. Predictions are matched to labels one to one: (label, prediction) pairs in order of
  increasing mean keypoint distance d, each prediction used once. A label is found when d < 0.5 x its size
  (the longer side of its keypoint box); PCK@0.2 is the share of its keypoints within 0.2 x size of the
  matched prediction's, 0 when missed, averaged over all labels. Nine hands make a regression set, not a
  benchmark: one hand moves recall by 11 points.
* False hands: every image in ../shared/data/negatives in static image mode, and every frame of
  negatives/cockatoo.mp4 tracked as a video; any hand there is a false one.
* Photos: the hands found on ../shared/data/hands (16 photos, no labels) and the least presence they got;
  "gesture photos": of the 30 photos in gestures/{call,four,rock} (each shows a hand making that gesture;
  no keypoint labels), those with a hand found.
* Time: milliseconds per labelled image (static mode, whole pipeline), best of 3 passes taken in turns,
  and the ratio to ours with MediaPipe's rules in the same run. The machine may be shared: trust ratios.

    python benchmarks/accuracy.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
LABELLED = DATA_DIR / "labelled_dev"
sys.path.insert(0, str(REPO_ROOT))

import mediapipe_reference  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from speed import cpu_description  # noqa: E402

from hand_tracking_ros import HandTracker  # noqa: E402
from hand_tracking_ros.options import MEDIAPIPE_OPTIONS  # noqa: E402
from hand_tracking_ros.sources import FrameSource  # noqa: E402

PIPELINES = {
    "ours, defaults": {},
    "ours, refinement only": {"min_candidate_palm_confidence": 1.0},
    "ours, candidate palms only": {"refine_new_hands": False},
    "ours, MediaPipe's rules": MEDIAPIPE_OPTIONS,
    "ours, defaults + tiles": {"tile_wide_images": True},
}
TIMING_BASE = "ours, MediaPipe's rules"
GESTURES_WITH_A_HAND = ("call", "four", "rock")  # gestures/none may show no hand
PASSES = 3


def load_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def score_image(labels: list[dict], predictions: list[np.ndarray]) -> list[tuple[bool, float]]:
    """(found, PCK@0.2) for each label, predictions (21, 2) matched to labels one to one by distance."""
    truths = [np.array(label["keypoints"], float) for label in labels]
    pairs = []
    for label_index, truth in enumerate(truths):
        visible = truth[:, 2] > 0
        for prediction_index, prediction in enumerate(predictions):
            distances = np.linalg.norm(prediction[visible] - truth[visible, :2], axis=1)
            pairs.append((distances.mean(), label_index, prediction_index, distances))
    results = [(False, 0.0)] * len(truths)
    used_labels, used_predictions = set(), set()
    for mean, label_index, prediction_index, distances in sorted(pairs, key=lambda pair: pair[0]):
        if label_index in used_labels or prediction_index in used_predictions:
            continue
        used_labels.add(label_index)
        used_predictions.add(prediction_index)
        visible = truths[label_index][truths[label_index][:, 2] > 0, :2]
        size = max(np.ptp(visible[:, 0]), np.ptp(visible[:, 1]))
        if mean < 0.5 * size:
            results[label_index] = (True, float((distances < 0.2 * size).mean()))
    return results


class Pipeline:
    """Landmarks (21, 2) of the hands in an image, and presences, from ours or from MediaPipe."""

    def __init__(self, name: str, options: dict | None) -> None:
        self.name, self.options = name, options

    def images(self, images: list[np.ndarray]) -> list[list[tuple[np.ndarray, float]]]:
        if self.options is None:
            results = mediapipe_reference.run(images, static_image_mode=True, max_num_hands=2)
            return [[(hand["landmarks"][:, :2], float("nan")) for hand in hands] for hands in results]
        tracker = HandTracker(static_image_mode=True, max_num_hands=2, **self.options)
        return [[(hand.landmarks[:, :2], hand.presence) for hand in tracker.process(image)] for image in images]

    def video_hands(self, frames: list[np.ndarray]) -> int:
        if self.options is None:
            return sum(len(hands) for hands in mediapipe_reference.run(frames, static_image_mode=False,
                                                                       max_num_hands=2))
        tracker = HandTracker(max_num_hands=2, **self.options)
        return sum(len(tracker.process(frame, timestamp=index / 25)) for index, frame in enumerate(frames))

    def processor(self):
        """A function that runs the whole static pipeline on one image, and what to close after."""
        if self.options is None:
            hands = mediapipe_reference.mediapipe_hands(static_image_mode=True, max_num_hands=2)
            return hands.process, hands.close
        tracker = HandTracker(static_image_mode=True, max_num_hands=2, **self.options)
        return tracker.process, lambda: None


def seconds_per_image(pipelines: list[Pipeline], images: list[np.ndarray]) -> dict[str, float]:
    """Best time per image of each pipeline over PASSES passes, the pipelines taking turns within each pass
    so that a busy moment on a shared machine hits them alike."""
    processors = {pipeline.name: pipeline.processor() for pipeline in pipelines}
    best = dict.fromkeys(processors, np.inf)
    for _ in range(PASSES + 1):  # the first pass warms up
        for name, (process, _) in processors.items():
            start = time.perf_counter()
            for image in images:
                process(image)
            best[name] = min(best[name], (time.perf_counter() - start) / len(images))
    for _, close in processors.values():
        close()
    return best


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    print(__doc__.split("\n\n")[0])
    labels = json.loads((LABELLED / "labels.json").read_text())
    labelled = [load_rgb(LABELLED / "images" / name) for name in labels]
    negatives = sorted(path for path in (DATA_DIR / "negatives").iterdir() if path.suffix.lower() in (".png", ".jpg"))
    negative_images = [load_rgb(path) for path in negatives]
    cockatoo = [frame.image_rgb for frame in FrameSource(str(DATA_DIR / "negatives" / "cockatoo.mp4"))]
    photo_paths = sorted([*(DATA_DIR / "hands").glob("*.jpg"), *(DATA_DIR / "hands").glob("*.png"),
                          *(DATA_DIR / "hands" / "assorted").glob("*.jpg")])
    photos = [load_rgb(path) for path in photo_paths]
    gesture_photos = [load_rgb(path) for gesture in GESTURES_WITH_A_HAND
                      for path in sorted((DATA_DIR / "gestures" / gesture).iterdir())]

    pipelines = [Pipeline(name, options) for name, options in PIPELINES.items()]
    try:
        import mediapipe  # noqa: F401
        pipelines.append(Pipeline(f"MediaPipe {mediapipe.__version__}", None))
    except ImportError as error:
        print(f"(MediaPipe skipped: {error})")

    rows, per_label = [], {}
    for pipeline in pipelines:
        scores = [result for image, hands, truth in zip(labelled, pipeline.images(labelled), labels.values())
                  for result in score_image(truth, [landmarks for landmarks, _ in hands])]
        per_label[pipeline.name] = scores
        false_images = sum(len(hands) for hands in pipeline.images(negative_images))
        false_video = pipeline.video_hands(cockatoo)
        photo_hands = [presence for hands in pipeline.images(photos) for _, presence in hands]
        rows.append((pipeline.name, sum(found for found, _ in scores), float(np.mean([pck for _, pck in scores])),
                     false_images, false_video, len(photo_hands),
                     float(np.min(photo_hands)) if photo_hands else float("nan"),
                     sum(bool(hands) for hands in pipeline.images(gesture_photos))))
    timings = seconds_per_image(pipelines, labelled)

    print(f"\n{'pipeline':30}{'found':>8}{'PCK@0.2':>9}{'false: images':>15}{'video frames':>14}"
          f"{'photo hands':>13}{'min presence':>14}{'gesture photos':>16}{'ms/image':>10}{'x time':>8}")
    for name, found, pck, false_images, false_video, photo_hands, least, gestures in rows:
        ms = 1000 * timings[name]
        print(f"{name:30}{found:>5}/{len(per_label[name])}{pck:>9.3f}{false_images:>15}{false_video:>14}"
              f"{photo_hands:>13}{least:>14.3f}{gestures:>12}/{len(gesture_photos)}{ms:>10.1f}"
              f"{timings[name] / timings[TIMING_BASE]:>7.2f}x")
    print(f"\nfalse: hands on the {len(negatives)} negative images (static) and over the {len(cockatoo)} frames "
          "of negatives/cockatoo.mp4 (tracking)")
    print("\nper labelled hand (PCK@0.2, '-' missed):")
    names = [f"{image}:{index}" for image, hands in labels.items() for index in range(len(hands))]
    print(f"{'hand':30}" + "".join(f"{row[0].removeprefix('ours, '):>22}" for row in rows))
    for index, name in enumerate(names):
        cells = [per_label[row[0]][index] for row in rows]
        print(f"{name:30}" + "".join(f"{(f'{pck:.2f}' if found else '-'):>22}" for found, pck in cells))
    print(f"\n{cpu_description()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
