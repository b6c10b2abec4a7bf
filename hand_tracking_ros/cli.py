"""Command line: ``hand-tracking track SOURCE ...`` writes one JSON line per frame or image.

JSON line schema (a contract: keep these keys and types):
{"source": <file name for images, null for video frames>, "frame": <int>, "width": <int>, "height": <int>,
 "hands": [{"id": <int>, "handedness": "left"|"right", "handedness_score": <float>, "presence": <float>,
            "landmarks": [[x_px, y_px, z] x21], "world_landmarks": [[x, y, z] x21 metres],
            "gesture": <string or null>}]}
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

import cv2

from .backend import DEVICES, ProviderUnavailableError
from .models import ModelFileError
from .parameters import DEFAULTS
from .smoothing import IMAGE_SMOOTHING
from .sources import Frame, FrameSource, SourceError
from .types import Hand


def hand_record(hand: Hand) -> dict:
    return {
        "id": hand.id,
        "handedness": hand.handedness,
        "handedness_score": round(hand.handedness_score, 4),
        "presence": round(hand.presence, 4),
        "landmarks": [[round(float(x), 2), round(float(y), 2), round(float(z), 5)] for x, y, z in hand.landmarks],
        "world_landmarks": [[round(float(value), 5) for value in point] for point in hand.world_landmarks],
        "gesture": hand.gesture,
    }


def frame_record(frame: Frame, width: int, height: int, hands: list[Hand]) -> dict:
    return {"source": frame.name, "frame": frame.index, "width": width, "height": height,
            "hands": [hand_record(hand) for hand in hands]}


class AnnotationWriter:
    """Writes annotated frames: one image file for an image, a folder of images for a folder, a video for
    a video or a camera."""

    def __init__(self, output: Path, source: FrameSource):
        self.output = output
        self.source = source
        self.video = None
        if source.kind == "folder" or (source.kind == "image" and output.is_dir()):
            output.mkdir(parents=True, exist_ok=True)

    def write(self, frame: Frame, annotated_rgb) -> None:
        bgr = cv2.cvtColor(annotated_rgb, cv2.COLOR_RGB2BGR)
        if self.source.is_still:
            target = self.output / frame.name if self.output.is_dir() else self.output
            if not cv2.imwrite(str(target), bgr):
                raise SourceError(f"cannot write annotated image {target} (unknown extension or no permission?)")
            return
        if self.video is None:
            codec = "MJPG" if self.output.suffix.lower() == ".avi" else "mp4v"
            self.video = cv2.VideoWriter(str(self.output), cv2.VideoWriter_fourcc(*codec), self.source.fps,
                                         (bgr.shape[1], bgr.shape[0]))
            if not self.video.isOpened():
                raise SourceError(f"cannot write video {self.output}; use a .mp4 or .avi file name")
        self.video.write(bgr)

    def close(self) -> None:
        if self.video is not None:
            self.video.release()


def add_tracker_arguments(parser: argparse.ArgumentParser) -> None:
    """HandTracker options, shared by `track` and `bag`; defaults are the node's (parameters.py)."""
    parser.add_argument("--max-hands", type=int, default=DEFAULTS["max_num_hands"], metavar="N",
                        help="most hands to track (default %(default)s)")
    parser.add_argument("--static-image-mode", action="store_true",
                        help="run the palm detector on every frame, no tracking (default for image sources "
                             "anyway: unrelated images are never tracked across)")
    parser.add_argument("--model-complexity", type=int, choices=(0, 1), default=DEFAULTS["model_complexity"],
                        help="0 = lite models (faster), 1 = full models (default)")
    parser.add_argument("--detection-interval", type=int, default=DEFAULTS["detection_interval"], metavar="N",
                        help="while at least one hand is tracked, look for more hands every N frames "
                             "(default %(default)s; 1 = every frame, as MediaPipe)")
    parser.add_argument("--min-detection-confidence", type=float, default=DEFAULTS["min_detection_confidence"])
    parser.add_argument("--min-presence-confidence", type=float, default=DEFAULTS["min_presence_confidence"])
    parser.add_argument("--mirrored", action="store_true",
                        help="input is mirrored (selfie view): swap the handedness labels")
    parser.add_argument("--device", choices=DEVICES, default=DEFAULTS["device"],
                        help="inference device (default auto: TensorRT, then CUDA, then CPU)")
    parser.add_argument("--no-smoothing", dest="smoothing", action="store_false",
                        help="report the models' raw landmarks (no One Euro filter per track)")
    parser.add_argument("--smoothing-min-cutoff", type=float, default=IMAGE_SMOOTHING.min_cutoff, metavar="HZ",
                        help="One Euro min_cutoff for image landmarks: lower smooths a still hand more "
                             f"(default {IMAGE_SMOOTHING.min_cutoff})")
    parser.add_argument("--smoothing-beta", type=float, default=IMAGE_SMOOTHING.beta,
                        help=f"One Euro beta for image landmarks: higher lags less on fast moves "
                             f"(default {IMAGE_SMOOTHING.beta})")
    parser.add_argument("--gesture-hold-frames", type=int, default=DEFAULTS["gesture_hold_frames"], metavar="N",
                        help="report a gesture once it has held N frames (default %(default)s)")


def tracker_from_arguments(args: argparse.Namespace, static_image_mode: bool = False):
    from .tracker import HandTracker

    return HandTracker(max_num_hands=args.max_hands, min_detection_confidence=args.min_detection_confidence,
                       min_presence_confidence=args.min_presence_confidence,
                       model_complexity=args.model_complexity,
                       static_image_mode=args.static_image_mode or static_image_mode,
                       detection_interval=args.detection_interval, mirrored=args.mirrored, device=args.device,
                       smoothing=args.smoothing,
                       image_smoothing=replace(IMAGE_SMOOTHING, min_cutoff=args.smoothing_min_cutoff,
                                               beta=args.smoothing_beta),
                       gesture_hold_frames=args.gesture_hold_frames)


def add_track_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE",
                        help="an image, a video, a folder of images (sorted by name) or a camera index")
    parser.add_argument("--output", type=Path, metavar="FILE.jsonl",
                        help="write JSON lines here (default: standard output)")
    parser.add_argument("--annotate", type=Path, metavar="OUT",
                        help="write the input with the hands drawn: an image file, a folder, or a video file")
    add_tracker_arguments(parser)


def run_track(args: argparse.Namespace) -> int:
    from .drawing import draw_hands

    if args.max_hands < 1:
        raise SourceError("--max-hands must be at least 1")
    source = FrameSource(args.source)
    tracker = tracker_from_arguments(args, static_image_mode=source.is_still)
    output = open(args.output, "w") if args.output else sys.stdout
    annotator = AnnotationWriter(args.annotate, source) if args.annotate else None
    frames = iter(source)
    if sys.stderr.isatty() and source.kind != "camera":
        from tqdm import tqdm

        frames = tqdm(frames, total=source.total, unit="frame" if source.kind == "video" else "image")
    failures = 0
    try:
        for frame in frames:
            if frame.image_rgb is None:
                failures += 1
                print(f"hand-tracking: skipped: {frame.error}", file=sys.stderr)
                continue
            hands = tracker.process(frame.image_rgb, frame.timestamp)
            height, width = frame.image_rgb.shape[:2]
            output.write(json.dumps(frame_record(frame, width, height, hands)) + "\n")
            if annotator is not None:
                annotator.write(frame, draw_hands(frame.image_rgb, hands))
    except KeyboardInterrupt:
        pass
    finally:
        if annotator is not None:
            annotator.close()
        if output is not sys.stdout:
            output.close()
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hand-tracking", description="Real-time multi-hand tracking.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log which execution provider runs")
    commands = parser.add_subparsers(dest="command", required=True)
    track = commands.add_parser("track", help="track hands in an image, video, folder or camera; "
                                              "write JSON lines")
    add_track_arguments(track)
    track.set_defaults(run=run_track)
    from . import bag

    bag_parser = commands.add_parser("bag", help="run tracking on a rosbag2 and write a new bag with the results")
    bag.add_arguments(bag_parser)
    bag_parser.set_defaults(run=bag.run)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(name)s: %(levelname)s: %(message)s")
    try:
        return args.run(args)
    except (SourceError, ModelFileError, ProviderUnavailableError, ValueError) as error:
        print(f"hand-tracking: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
