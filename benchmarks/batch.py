#!/usr/bin/env python3
"""Offline at scale: ``hand-tracking batch`` on Ray against ``hand-tracking bag``/``track`` run one after the other.

Makes a small set of real inputs in a temporary folder: clips of ``--clip-frames`` frames cut from the shared
videos (reaching_hand 640x360, thumbs_up 1280x720), two rosbag2 recordings of such a clip (raw sqlite3 and
compressed MCAP), and the four folders of ../shared/data/gestures (10 photos each). Then, on this machine:

1. one after the other: ``hand-tracking track INPUT --output ...`` or ``hand-tracking bag IN OUT --image-topic
   ...`` per input, each its own process, as a shell loop would (every process loads the models);
2. ``hand-tracking batch INPUT... --output DIR --workers N``: one command, Ray started by it (its start-up is in
   the time), N actors that load the models once;
3. the same batch command again: everything is done, nothing is redone (the cost of resuming).

Prints inputs per minute, frames per second and the ratio to the one-after-the-other run, checks that the
batch results equal the single-process ones, and prints the CPU model and its AVX2/AVX-512 flags.

    python benchmarks/batch.py                      # 2 workers, full models
    python benchmarks/batch.py --workers 4 --clip-frames 100 --model-complexity 0
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
sys.path.insert(0, str(REPO_ROOT))

from speed import cpu_description, read_video, video_frames, write_video  # noqa: E402  (benchmarks/ is on sys.path)

VIDEOS = ("reaching_hand_640x360.mp4", "thumbs_up_1280x720.mp4")
FOLDERS = ("call", "four", "rock", "none")
BAG_TOPIC = "/cam/image_raw"
START_NS = 1_700_000_000 * 10**9


def cut_clips(folder: Path, clip_frames: int) -> list[Path]:
    """Consecutive clips of ``clip_frames`` frames from each shared video (the last, shorter part dropped)."""
    clips = []
    for video in VIDEOS:
        frames = read_video(DATA_DIR / "videos" / video)
        for start in range(0, len(frames) - clip_frames + 1, clip_frames):
            clips.append(write_video(folder / f"{Path(video).stem}_{start:04d}.mp4",
                                     frames[start:start + clip_frames], 30.0))
    return clips


def write_bag(path: Path, clip: Path, compressed: bool) -> Path:
    """A rosbag2 of the clip's frames on BAG_TOPIC: raw bgr8 in sqlite3, or JPEG in MCAP (on BAG_TOPIC/compressed)."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    from hand_tracking_ros.rosbags_messages import make_typestore

    typestore = make_typestore()
    types = typestore.types
    msgtype = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP if compressed else StoragePlugin.SQLITE3) as bag:
        connection = bag.add_connection(BAG_TOPIC + ("/compressed" if compressed else ""), msgtype,
                                        typestore=typestore)
        for index, bgr in enumerate(video_frames(clip)):
            stamp = START_NS + index * 33_333_333
            header = types["std_msgs/msg/Header"](
                stamp=types["builtin_interfaces/msg/Time"](sec=stamp // 10**9, nanosec=stamp % 10**9),
                frame_id="camera_optical_frame")
            if compressed:
                message = types[msgtype](header=header, format="jpeg", data=cv2.imencode(".jpg", bgr)[1].reshape(-1))
            else:
                message = types[msgtype](header=header, height=bgr.shape[0], width=bgr.shape[1], encoding="bgr8",
                                         is_bigendian=0, step=bgr.shape[1] * 3, data=bgr.reshape(-1))
            bag.write(connection, stamp, typestore.serialize_cdr(message, msgtype))
    return path


def hand_tracking(*arguments: str) -> None:
    result = subprocess.run([sys.executable, "-m", "hand_tracking_ros.cli", *arguments], capture_output=True,
                            text=True)
    if result.returncode not in (0, 1):  # 1: some frames skipped or an input failed, reported in the results
        raise SystemExit(f"hand-tracking {' '.join(arguments)} failed:\n{result.stderr}")


def one_after_the_other(inputs: list[Path], folder: Path, tracker_flags: list[str]) -> dict[Path, Path]:
    outputs = {}
    for number, path in enumerate(inputs):
        if (path / "metadata.yaml").exists():
            outputs[path] = folder / f"{number:04d}_{path.name}"
            topic = BAG_TOPIC + ("/compressed" if any(path.glob("*.mcap")) else "")
            hand_tracking("bag", str(path), str(outputs[path]), "--image-topic", topic, *tracker_flags)
        else:
            outputs[path] = folder / f"{number:04d}_{path.name}.jsonl"
            hand_tracking("track", str(path), "--output", str(outputs[path]), *tracker_flags)
    return outputs


def same_results(batch_dir: Path, single: dict[Path, Path]) -> bool:
    """Whether every batch result is byte for byte the single-process one (bags: every file of the folder)."""
    records = [json.loads(line) for line in (batch_dir / "manifest.jsonl").read_text().splitlines()]
    for record in records:
        mine, theirs = Path(record["output"]), single[Path(record["input"])]
        if theirs.is_dir():
            # The bag folders' metadata.yaml name their own folder's files; the messages are what counts.
            from rosbags.rosbag2 import Reader

            def messages(bag: Path) -> list:
                with Reader(bag) as reader:
                    return [(c.topic, t, bytes(raw)) for c, t, raw in reader.messages()]

            if messages(mine) != messages(theirs):
                return False
        elif mine.read_bytes() != theirs.read_bytes():
            return False
    return len(records) == len(single)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="Ray actors of the batch run (default %(default)s)")
    parser.add_argument("--clip-frames", type=int, default=50, help="frames per video clip (default %(default)s)")
    parser.add_argument("--copies", type=int, default=1,
                        help="give every input this many times, under other names (symbolic links): more inputs "
                             "for the same data (default %(default)s)")
    parser.add_argument("--model-complexity", type=int, choices=(0, 1), default=1)
    args = parser.parse_args()

    tracker_flags = ["--model-complexity", str(args.model_complexity)]
    with tempfile.TemporaryDirectory(prefix="batch_benchmark_") as temporary:
        root = Path(temporary)
        (root / "clips").mkdir()
        clips = cut_clips(root / "clips", args.clip_frames)
        bags = [write_bag(root / "raw_bag", clips[0], compressed=False),
                write_bag(root / "compressed_bag", clips[1], compressed=True)]
        originals = clips + bags + [DATA_DIR / "gestures" / name for name in FOLDERS]
        inputs = list(originals)
        for copy in range(1, args.copies):
            (root / f"copy{copy}").mkdir()
            for path in originals:
                (root / f"copy{copy}" / path.name).symlink_to(path)
                inputs.append(root / f"copy{copy}" / path.name)
        (root / "single").mkdir()

        start = time.perf_counter()
        single = one_after_the_other(inputs, root / "single", tracker_flags)
        sequential = time.perf_counter() - start
        batch_flags = ["batch", *map(str, inputs), "--output", str(root / "batch"), "--workers", str(args.workers),
                       *tracker_flags]
        start = time.perf_counter()
        hand_tracking(*batch_flags)
        batched = time.perf_counter() - start
        start = time.perf_counter()
        hand_tracking(*batch_flags)
        resumed = time.perf_counter() - start

        records = [json.loads(line) for line in (root / "batch" / "manifest.jsonl").read_text().splitlines()]
        frames = sum(record["frames"] for record in records)
        identical = same_results(root / "batch", single)

    print(f"CPU: {cpu_description()}")
    print(f"{len(inputs)} inputs ({args.copies} x: {len(clips)} clips of {args.clip_frames} frames, {len(bags)} bags, "
          f"{len(FOLDERS)} folders of 10 photos), {frames} frames, model_complexity {args.model_complexity}")
    print()
    print(f"| {'run':<46} | {'seconds':>7} | {'inputs/min':>10} | {'frames/s':>8} | {'ratio':>5} |")
    print(f"|{'-' * 48}|{'-' * 8}:|{'-' * 11}:|{'-' * 9}:|{'-' * 6}:|")
    for name, seconds in (("`bag`/`track` one after the other", sequential),
                          (f"`batch --workers {args.workers}` (Ray start-up included)", batched)):
        print(f"| {name:<46} | {seconds:7.1f} | {len(inputs) / seconds * 60:10.1f} | {frames / seconds:8.1f} | "
              f"{sequential / seconds:5.2f} |")
    print(f"| {'`batch` again: all done, nothing redone':<46} | {resumed:7.1f} | {'-':>10} | {'-':>8} | {'-':>5} |")
    print()
    print(f"batch results equal the single-process results: {'yes' if identical else 'NO'}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
