"""Command line: ``hand-tracking track SOURCE ...`` writes one JSON line per frame or image.

JSON line schema (a contract: keep these keys and types):
{"source": <file name for images, null for video frames>, "frame": <int>, "width": <int>, "height": <int>,
 "hands": [{"id": <int>, "handedness": "left"|"right", "handedness_score": <float>, "presence": <float>,
            "landmarks": [[x_px, y_px, z] x21], "world_landmarks": [[x, y, z] x21 metres],
            "gesture": <string or null>,
            "landmarks_camera": [[x, y, z] x21 metres in the camera frame] or null,
            "finger_flexion": [15 radians]}]}

``landmarks_camera`` (x right, y down, z forward) needs the camera's intrinsics (``HandTracker.set_camera_intrinsics``):
the track command has none, so it is null there. ``finger_flexion`` is ordered as HandLandmarks' FLEXION_*
constants (thumb CMC, MCP, IP, then MCP, PIP, DIP of the index, middle, ring and little fingers), 0 = straight.

A frame that cannot be read or that the tracker refuses (an undecodable or oversized image, a FIFO named
like an image...) gets no line: it is reported on standard error and counted, and the run goes on. A run on
files ends with one summary line on standard error (``hand-tracking: 202 frames, 180 with hands, 0 skipped``).
``track_source`` is the same run for other code (a batch runner): a source, a text stream, a tracker.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, TextIO

import cv2

from .backend import ProviderUnavailableError
from .models import ModelFileError
from .options import KIND_NAMES, OPTION_SPECS, OPTIONS, OptionError, OptionSpec, TrackerOptions
from .parameters import DEFAULTS
from .sources import IMAGE_SUFFIXES, Frame, FrameSource, SourceError
from .types import Hand

LOGGER = logging.getLogger("hand_tracking_ros")

VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}  # annotation video file name suffix -> fourcc
INVALID_IMAGE = "invalid image"  # skip reason: the tracker refused a decoded image (too large...)
EXIT_STATUS = """exit status:
  0    every frame was tracked and written (or the reader of standard output
       stopped early, as | head does)
  1    an error (the message says which), or some frames were skipped (each
       is reported and counted)
  2    a usage error: an unknown flag or a bad flag value
  130  interrupted (Ctrl-C) before the end of the input; what was written is
       finished and readable. Ctrl-C is how a camera run ends: 0 or 1 as above."""


class OutputError(RuntimeError):
    """An output (JSON lines, annotated images or video) cannot be written; the message says why."""


def hand_record(hand: Hand) -> dict:
    return {
        "id": hand.id,
        "handedness": hand.handedness,
        "handedness_score": round(hand.handedness_score, 4),
        "presence": round(hand.presence, 4),
        "landmarks": [[round(float(x), 2), round(float(y), 2), round(float(z), 5)] for x, y, z in hand.landmarks],
        "world_landmarks": [[round(float(value), 5) for value in point] for point in hand.world_landmarks],
        "gesture": hand.gesture,
        "landmarks_camera": ([[round(float(value), 5) for value in point] for point in hand.pose.landmarks_camera]
                             if hand.pose is not None and hand.pose.valid else None),
        "finger_flexion": [round(float(angle), 4) for angle in hand.finger_flexion],
    }


def frame_record(frame: Frame, width: int, height: int, hands: list[Hand]) -> dict:
    return {"source": frame.name, "frame": frame.index, "width": width, "height": height,
            "hands": [hand_record(hand) for hand in hands]}


@dataclass
class TrackSummary:
    """What a run did: ``frames`` got a JSON line, ``frames_with_hands`` of them with at least one hand;
    ``skipped`` frames got none, counted by reason (``sources.UNDECODABLE``, ``INVALID_IMAGE``...)."""

    frames: int = 0
    frames_with_hands: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, message: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        LOGGER.warning("skipped: %s", message)

    def __str__(self) -> str:
        text = f"{self.frames} frames, {self.frames_with_hands} with hands, {sum(self.skipped.values())} skipped"
        if self.skipped:
            text += " (" + ", ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items())) + ")"
        return text


def same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist (yet): they are not the same file
        return False


def check_output_file(path: Path, flag: str, source: FrameSource) -> None:
    """Refuse, before anything is written, a file output that cannot be created or would overwrite an input."""
    if path.is_dir():
        raise OutputError(f"{flag} {path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise OutputError(f"{flag} {path}: folder {path.parent} does not exist")
    if any(same_file(path, read) for read in source.files):
        raise OutputError(f"{flag} {path} is the source; writing it would destroy the input")


def annotates_into_folder(output: Path, source: FrameSource) -> bool:
    """Whether --annotate ``output`` is a folder of images named as the source's (else one image or video)."""
    return source.kind == "folder" or (source.kind == "image" and output.is_dir())


def check_annotation_target(output: Path, source: FrameSource) -> None:
    """Refuse, before anything is written, an --annotate target that AnnotationWriter cannot write for this
    source or that would overwrite the source's files."""
    if annotates_into_folder(output, source):
        if output.exists() and not output.is_dir():
            raise OutputError(f"--annotate {output} is a file; a folder source is annotated into a folder")
        if not output.exists() and output.suffix.lower() in IMAGE_SUFFIXES | VIDEO_CODECS.keys():
            raise OutputError(f"--annotate {output} looks like a file name; a folder source is annotated into "
                              "a folder (one image per input, same names)")
        if any(same_file(output / image.name, image) for image in source.images):
            raise OutputError(f"--annotate {output} holds the source images; annotating there would overwrite "
                              "them: choose another folder")
        return
    if source.is_still and not cv2.haveImageWriter(str(output)):
        raise OutputError(f"--annotate {output}: an image is annotated into an image file, and OpenCV cannot "
                          "write this one: give a name ending in .png or .jpg (or an existing folder)")
    if not source.is_still and output.suffix.lower() not in VIDEO_CODECS:
        raise OutputError(f"--annotate {output}: a {source.kind} is annotated into a video file: give a name "
                          f"ending in {' or '.join(VIDEO_CODECS)}")
    check_output_file(output, "--annotate", source)


class AnnotationWriter:
    """Writes annotated frames: one image file for an image (or an image of the same name in an existing
    folder), a folder of images of the same names for a folder (created if needed), a .mp4 or .avi video
    for a video or a camera. The target is checked when the writer is made (check_annotation_target)."""

    def __init__(self, output: Path, source: FrameSource):
        check_annotation_target(output, source)
        self.output = output
        self.source = source
        self.into_folder = annotates_into_folder(output, source)
        self.video = None

    def write(self, frame: Frame, annotated_rgb) -> None:
        bgr = cv2.cvtColor(annotated_rgb, cv2.COLOR_RGB2BGR)
        if self.source.is_still:
            target = self.output / frame.name if self.into_folder else self.output
            try:
                if self.into_folder:
                    self.output.mkdir(parents=True, exist_ok=True)
                written = cv2.imwrite(str(target), bgr)
            except (OSError, cv2.error) as error:
                raise OutputError(f"cannot write annotated image {target}: {error}") from error
            if not written:
                raise OutputError(f"cannot write annotated image {target} (disk full or no permission?)")
            return
        if self.video is None:
            fourcc = cv2.VideoWriter_fourcc(*VIDEO_CODECS[self.output.suffix.lower()])
            self.video = cv2.VideoWriter(str(self.output), fourcc, self.source.fps, (bgr.shape[1], bgr.shape[0]))
            if not self.video.isOpened():
                raise OutputError(f"cannot write video {self.output} (no permission?)")
        self.video.write(bgr)

    def close(self) -> None:
        if self.video is not None:
            self.video.release()


def add_tracker_arguments(parser: argparse.ArgumentParser) -> None:
    """HandTracker options, shared by `track` and `bag`: one flag per ``TrackerOptions`` field, with its
    default, bounds and description. A bad value is a usage error naming the flag
    ("argument --detection-interval: must be from 1 to 30, got 0")."""
    for spec in OPTION_SPECS:
        description = spec.description.replace("%", "%%")
        if spec.kind is bool:
            parser.add_argument(spec.cli_flag, dest=spec.name, action="store_false" if spec.default else "store_true",
                                help=f"switch off: {description}" if spec.default else description)
            continue
        metavar = ("{" + ",".join(spec.choices) + "}" if spec.choices else "DIR" if spec.is_path
                   else "N" if spec.kind is int else "X")
        allowed = f"{spec.range_text}; " if spec.minimum is not None else ""
        parser.add_argument(spec.cli_flag, dest=spec.name, type=_flag_parser(spec), default=spec.default,
                            metavar=metavar, help=f"{description} ({allowed}default: %(default)r)")


def add_marker_depth_argument(parser: argparse.ArgumentParser, help_prefix: str = "") -> None:
    """--marker-assumed-depth, shared by `bag` and `batch`; its default is the node's parameter's."""
    parser.add_argument("--marker-assumed-depth", type=float, default=DEFAULTS["marker_assumed_depth"],
                        metavar="METRES", help=f"{help_prefix}depth of the markers of hands without a metric pose "
                                               "(default %(default)s)")


def _flag_parser(spec: OptionSpec):
    """argparse ``type`` of an option's flag: the text converted and checked like any value of the option."""

    def parse(text: str):
        try:
            value = spec.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {KIND_NAMES[spec.kind]}, got {text!r}") from None
        try:
            return spec.check(value)
        except OptionError as error:
            raise argparse.ArgumentTypeError(error.reason) from None

    parse.__name__ = spec.kind.__name__  # argparse's name for the type in its own messages
    return parse


def tracker_from_arguments(args: argparse.Namespace, static_image_mode: bool = False):
    """A HandTracker with the options of ``add_tracker_arguments``' flags; ``static_image_mode`` forces that
    mode (image sources). An OptionError names the flag."""
    from .tracker import HandTracker

    values = {spec.name: getattr(args, spec.name) for spec in OPTION_SPECS}
    values["static_image_mode"] = values["static_image_mode"] or static_image_mode
    try:
        options = TrackerOptions(**values)
    except OptionError as error:
        raise error.renamed(OPTIONS[error.option].cli_flag) from None
    return HandTracker(options)


def add_track_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE",
                        help="an image, a video, a folder of images (sorted by name) or a camera index")
    parser.add_argument("--output", type=Path, metavar="FILE.jsonl",
                        help="write JSON lines here (default: standard output); its folder must exist")
    parser.add_argument("--annotate", type=Path, metavar="OUT",
                        help="write the input with the hands drawn: an image file (or an existing folder) for "
                             "an image, a folder for a folder, a .mp4 or .avi file for a video or a camera; "
                             "never over the input")
    add_tracker_arguments(parser)


def track_source(source: FrameSource | str | os.PathLike, output: TextIO, tracker,
                 annotate: Path | str | None = None, *, summary: TrackSummary | None = None,
                 progress: bool = False) -> TrackSummary:
    """Track hands in every frame of ``source`` and write one JSON line per frame to ``output`` (the schema in
    the module docstring), and the frames with the hands drawn to ``annotate`` if given (AnnotationWriter).

    ``source``: a FrameSource, or a SOURCE as the CLI takes it (a path or a camera index). ``tracker``: a
    HandTracker, in ``static_image_mode`` for image and folder sources (unrelated images are not tracked
    across). A frame that cannot be read or that the tracker refuses is skipped, logged and counted; the others
    are processed. ``output`` is flushed, not closed (it is the caller's); the annotation video is finished
    however the run ends (an error, Ctrl-C). The counts go into ``summary`` (a new one by default) as the run
    goes, so a caller that interrupts it still has them. ``progress``: a tqdm bar on standard error.

    Raises SourceError (source), OutputError (annotation) and OSError from writing ``output``
    (BrokenPipeError when its reader has gone)."""
    from .drawing import draw_hands

    source = source if isinstance(source, FrameSource) else FrameSource(os.fspath(source))
    annotator = AnnotationWriter(Path(annotate), source) if annotate is not None else None
    summary = TrackSummary() if summary is None else summary
    frames: Iterator[Frame] = iter(source)
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, total=source.total, unit="image" if source.is_still else "frame")
    try:
        for frame in frames:
            if frame.image_rgb is None:
                summary.skip(frame.reason, frame.error)
                continue
            try:
                hands = tracker.process(frame.image_rgb, frame.timestamp)
            except ValueError as error:  # check_image refuses it (too large...): skip this frame, not the run
                summary.skip(INVALID_IMAGE, f"{frame.label}: {error}")
                continue
            height, width = frame.image_rgb.shape[:2]
            output.write(json.dumps(frame_record(frame, width, height, hands)) + "\n")
            if source.kind == "camera":
                output.flush()  # live: a program reading the pipe gets each frame when it happens
            summary.frames += 1
            summary.frames_with_hands += bool(hands)
            if annotator is not None:
                annotator.write(frame, draw_hands(frame.image_rgb, hands))
        output.flush()
    finally:
        if annotator is not None:
            annotator.close()
    return summary


@contextlib.contextmanager
def open_output(path: Path | None) -> Iterator[TextIO]:
    """The --output file, or standard output; flushed (and the file closed) however the run ends."""
    if path is not None:
        with open(path, "w", encoding="utf-8") as file:
            yield file
        return
    try:
        yield sys.stdout
    finally:
        sys.stdout.flush()


def discard_standard_output() -> None:
    """Point standard output at /dev/null, so that Python's own flush at exit does not fail a second time
    on what could not be written (a closed pipe, a full disk)."""
    with contextlib.suppress(OSError, ValueError):  # no file descriptor: a stream set by a caller
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def run_track(args: argparse.Namespace) -> int:
    source = FrameSource(args.source)
    # Every check that needs no model comes first: nothing is loaded, created or truncated for a run refused.
    if args.output is None and sys.stdout is None:
        raise OutputError("standard output is closed; give --output FILE")
    if args.output is not None:
        check_output_file(args.output, "--output", source)
    if args.annotate is not None:
        check_annotation_target(args.annotate, source)
        if args.output is not None and args.output.resolve() == args.annotate.resolve():
            raise OutputError(f"--output and --annotate are the same file {args.output}")
    tracker = tracker_from_arguments(args, static_image_mode=source.is_still)
    summary = TrackSummary()
    interrupted = False
    try:
        with open_output(args.output) as output:
            track_source(source, output, tracker, args.annotate, summary=summary,
                         progress=sys.stderr.isatty() and source.kind != "camera")
    except KeyboardInterrupt:
        interrupted = True
    except OSError as error:
        if args.output is None:
            discard_standard_output()
        if isinstance(error, BrokenPipeError):
            return 0  # the reader stopped early (| head): end quietly, as Unix tools do
        raise OutputError(f"cannot write {args.output or 'standard output'}: {error.strerror or error}") from error
    if source.kind == "camera":
        return 1 if summary.skipped else 0
    print(f"hand-tracking: {summary}{', interrupted' if interrupted else ''}", file=sys.stderr)
    return 130 if interrupted else 1 if summary.skipped else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hand-tracking", description="Real-time multi-hand tracking.",
                                     epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log which execution provider runs")
    commands = parser.add_subparsers(dest="command", required=True)
    track = commands.add_parser("track", help="track hands in an image, video, folder or camera; "
                                              "write JSON lines",
                                description="Track hands in SOURCE; write one JSON line per frame.",
                                epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_track_arguments(track)
    track.set_defaults(run=run_track)
    from . import bag

    bag_parser = commands.add_parser("bag", help="run tracking on a rosbag2 and write a new bag with the results")
    bag.add_arguments(bag_parser)
    bag_parser.set_defaults(run=bag.run)
    from . import batch  # imports no Ray: only its run does

    batch_parser = commands.add_parser("batch", help="track many bags, videos and folders on Ray (resumable)")
    batch.add_arguments(batch_parser)
    batch_parser.set_defaults(run=batch.run)
    if sys.stderr is None:  # closed (2>&-): messages go nowhere, not into the JSON lines (print's fallback)
        sys.stderr = open(os.devnull, "w", encoding="utf-8")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(name)s: %(levelname)s: %(message)s")
    try:
        return args.run(args)
    except (SourceError, OutputError, ModelFileError, ProviderUnavailableError, ValueError) as error:
        print(f"hand-tracking: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
