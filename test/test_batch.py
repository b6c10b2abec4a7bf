"""``hand-tracking batch``: many inputs on a local Ray give what ``bag`` and ``track`` give one by one.

Six real inputs (two bags written here from a real video, two short clips of the same file name cut from
real videos, a folder of real photos, and a corrupt bag) go through Ray with 2 workers on 2 CPUs. One Ray
session serves the whole module (Ray takes seconds to start); the interrupted and killed runs start their
own, as users' runs do. The tests that need no Ray (inputs, the shared tracker) run without it.
"""

from __future__ import annotations

import ast
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import DATA_DIR, read_video

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install -e \".[test]\")")
from rosbags.rosbag2 import StoragePlugin
from test_bag import compressed_message, image_message, read_bag, run_bag_command, write_input_bag

from hand_tracking_ros import batch, cli
from hand_tracking_ros.tracker import HandTracker

LITE = ("--model-complexity", "0")  # the lite models: the same code paths, faster
CLIP_FRAMES = 16
BAG_FRAMES = 10
FOLDER = DATA_DIR / "gestures" / "rock"  # 10 real photos


def write_clip(path: Path, relative_video: str) -> Path:
    """The first CLIP_FRAMES frames of a real video, as an .mp4 file."""
    frames = read_video(relative_video, max_frames=CLIP_FRAMES)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (width, height))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """name -> input path: two bags, two clips named clip.mp4, a folder, and a corrupt bag."""
    root = tmp_path_factory.mktemp("inputs")
    frames = read_video("videos/reaching_hand_640x360.mp4", max_frames=BAG_FRAMES)
    write_input_bag(root / "raw_bag", StoragePlugin.SQLITE3, "/cam/image_raw",
                    [image_message(index, frame) for index, frame in enumerate(frames)])
    compressed = [compressed_message(index, frame) for index, frame in enumerate(frames)]
    compressed[4] = compressed_message(4, None)  # one undecodable image: skipped and counted, the bag is "ok"
    write_input_bag(root / "compressed_bag", StoragePlugin.MCAP, "/cam/image_raw/compressed", compressed)
    corrupt = root / "corrupt_bag"
    corrupt.mkdir()
    (corrupt / "metadata.yaml").write_text((root / "raw_bag" / "metadata.yaml").read_text())
    for storage_file in (root / "raw_bag").glob("*.db3"):
        (corrupt / storage_file.name).write_bytes(b"this is not an sqlite3 database" * 100)
    return {"raw_bag": root / "raw_bag", "compressed_bag": root / "compressed_bag",
            "reaching_clip": write_clip(root / "a" / "clip.mp4", "videos/reaching_hand_640x360.mp4"),
            "thumbs_clip": write_clip(root / "b" / "clip.mp4", "videos/thumbs_up_1280x720.mp4"),
            "folder": FOLDER, "corrupt_bag": corrupt}


@pytest.fixture(scope="module")
def references(inputs, tmp_path_factory) -> dict[str, Path]:
    """name -> the output of `hand-tracking bag` or `hand-tracking track` on that input, run one by one."""
    root = tmp_path_factory.mktemp("references")
    outputs = {}
    for name in ("raw_bag", "compressed_bag"):
        outputs[name] = root / name
        topic = "/cam/image_raw" if name == "raw_bag" else "/cam/image_raw/compressed"
        assert run_bag_command(str(inputs[name]), str(outputs[name]), "--image-topic", topic, *LITE) in (0, 1)
    for name in ("reaching_clip", "thumbs_clip", "folder"):
        outputs[name] = root / f"{name}.jsonl"
        assert cli.main(["track", str(inputs[name]), "--output", str(outputs[name]), *LITE]) == 0
    return outputs


@pytest.fixture(scope="module")
def ray_session():
    """A local Ray with 2 CPUs for the module; `batch` uses a Ray already started instead of its own. Ray is
    also told of one GPU: it schedules by the resources it is told of, so the GPU shares of `--device auto`
    are requested and granted, while onnxruntime, without CUDA here, runs on the CPU."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e \".[scale]\")")
    ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False, logging_level=logging.ERROR,
             log_to_driver=False)
    yield ray
    ray.shutdown()


def read_manifest(directory: Path) -> dict[str, dict]:
    lines = (directory / batch.MANIFEST_NAME).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert all(tuple(record) == batch.MANIFEST_KEYS for record in records)
    by_input = {record["input"]: record for record in records}
    assert len(by_input) == len(records), "one line per input"
    return by_input


def results_in(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if not path.name.startswith(".")
                  and path.name != batch.MANIFEST_NAME)


def assert_same_output(output: Path, reference: Path) -> None:
    if reference.is_dir():  # a bag: the same messages, byte for byte, at the same bag timestamps
        mine, theirs = read_bag(output), read_bag(reference)
        assert sorted(mine) == sorted(theirs)
        for topic, messages in theirs.items():
            assert [(t, raw) for t, raw, _ in mine[topic]] == [(t, raw) for t, raw, _ in messages], topic
        assert sorted(path.suffix for path in output.iterdir()) == sorted(path.suffix for path in reference.iterdir())
    else:
        assert output.read_bytes() == reference.read_bytes()


def assert_complete(directory: Path, inputs: dict[str, Path], references: dict[str, Path]) -> None:
    """Every input has its line; the good ones their result, equal to the single-process one; no leftovers."""
    records = read_manifest(directory)
    assert set(records) == {str(path) for path in inputs.values()}
    for name, path in inputs.items():
        record = records[str(path)]
        if name == "corrupt_bag":
            assert record["status"] == "failed" and record["output"] is None and record["error"]
            continue
        assert record["status"] == "ok" and record["error"] is None, record
        assert_same_output(Path(record["output"]), references[name])
    assert sorted(str(path) for path in results_in(directory)) == sorted(
        record["output"] for record in records.values() if record["output"])
    assert not list(directory.glob(batch.PARTIAL_PREFIX + "*"))


def test_results_equal_single_process_runs_and_a_rerun_does_nothing(ray_session, inputs, references, tmp_path,
                                                                    capsys):
    out = tmp_path / "out"
    listing = tmp_path / "more.txt"  # the clips and the folder come through a list: a comment, relative paths
    listing.write_text("# clips of the same name\n" + "\n".join(
        os.path.relpath(inputs[name], tmp_path) for name in ("reaching_clip", "thumbs_clip")) + f"\n\n{FOLDER}\n")
    argv = ["batch", str(inputs["raw_bag"]), str(inputs["compressed_bag"]), str(inputs["corrupt_bag"]),
            str(listing), "--output", str(out), "--workers", "2", "--streams-per-worker", "2", "--device", "cpu",
            *LITE]

    # Exit status 1: one input failed; the five others are done, each like its single-process run.
    assert cli.main(argv) == 1
    assert_complete(out, inputs, references)
    records = read_manifest(out)
    assert "failed: " + str(inputs["corrupt_bag"]) in capsys.readouterr().err
    counts = {name: (records[str(path)]["frames"], records[str(path)]["skipped"]) for name, path in inputs.items()}
    assert counts == {"raw_bag": (BAG_FRAMES, 0), "compressed_bag": (BAG_FRAMES - 1, 1),
                      "reaching_clip": (CLIP_FRAMES, 0), "thumbs_clip": (CLIP_FRAMES, 0), "folder": (10, 0),
                      "corrupt_bag": (0, 0)}
    assert records[str(inputs["reaching_clip"])]["frames_with_hands"] == CLIP_FRAMES
    # Same file name, different folders: different results.
    assert records[str(inputs["reaching_clip"])]["output"] != records[str(inputs["thumbs_clip"])]["output"]

    manifest = (out / batch.MANIFEST_NAME).read_bytes()
    stamps = {path: path.stat().st_mtime_ns for path in results_in(out)}
    assert cli.main(argv) == 1
    assert "all 6 inputs are done already" in capsys.readouterr().err
    assert (out / batch.MANIFEST_NAME).read_bytes() == manifest
    assert {path: path.stat().st_mtime_ns for path in results_in(out)} == stamps


def start_batch(inputs: dict[str, Path], out: Path) -> subprocess.Popen:
    """The command as a user runs it (its own Ray), in its own process group, one input at a time."""
    order = ("reaching_clip", "folder", "thumbs_clip", "raw_bag", "compressed_bag", "corrupt_bag")
    return subprocess.Popen([sys.executable, "-m", "hand_tracking_ros.cli", "batch",
                             *(str(inputs[name]) for name in order), "--output", str(out), "--workers", "1", *LITE],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for_results(process: subprocess.Popen, out: Path, count: int) -> None:
    deadline = time.monotonic() + 240
    while not (out.is_dir() and len(results_in(out)) >= count):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "no result in time"
        time.sleep(0.02)


def test_interrupted_and_killed_runs_resume(ray_session, inputs, references, tmp_path):
    out = tmp_path / "out"
    # Ctrl-C after the first result: exit 130, nothing half-written, the manifest knows what is done.
    run = start_batch(inputs, out)
    wait_for_results(run, out, 1)
    run.send_signal(signal.SIGINT)
    _, errors = run.communicate(timeout=120)
    assert run.returncode == 130, errors
    assert not list(out.glob(batch.PARTIAL_PREFIX + "*"))
    records = read_manifest(out)
    assert 1 <= len(records) < len(inputs)
    assert all(record["status"] == "ok" and Path(record["output"]).exists() for record in records.values())
    assert sorted(str(path) for path in results_in(out)) == sorted(record["output"] for record in records.values())

    # Killed outright (the driver and its Ray, as a lost machine) after one more result: the next run
    # removes what was half-written, redoes what the manifest does not know, and finishes.
    run = start_batch(inputs, out)
    wait_for_results(run, out, len(records) + 1)
    with contextlib.suppress(ProcessLookupError):  # not already finished on a very fast machine
        os.killpg(run.pid, signal.SIGKILL)
    run.communicate(timeout=60)
    assert cli.main(["batch", *(str(path) for path in inputs.values()), "--output", str(out),
                     "--workers", "2", "--device", "cpu", *LITE]) == 1
    assert_complete(out, inputs, references)


def test_gpu_shares_and_batches_of_several_inputs(ray_session, inputs, references, tmp_path, capsys, caplog):
    """The GPU path as far as it runs without a GPU: on a cluster with a GPU, `--device auto` gives 2 workers a
    half GPU each, 4 inputs each side by side; the results are still those of `bag` and `track`."""
    caplog.set_level(logging.INFO, logger="hand_tracking_ros")
    out = tmp_path / "out"
    assert cli.main(["batch", *(str(path) for path in inputs.values()), "--output", str(out), *LITE]) == 1
    assert_complete(out, inputs, references)
    assert "2 workers (CPUExecutionProvider), 4 inputs each at a time" in caplog.text
    # --device cuda gets its GPU share, and then the worker says why it cannot use it: no CUDA in onnxruntime.
    assert cli.main(["batch", str(inputs["reaching_clip"]), "--output", str(tmp_path / "cuda"), "--device", "cuda",
                     *LITE]) == 1
    assert "the workers cannot start: device='cuda' was asked for" in capsys.readouterr().err


def test_inputs_lists_and_result_names(inputs, tmp_path):
    listing = tmp_path / "inputs.txt"
    listing.write_text(f"# all of them\n{inputs['raw_bag']}\n\n{inputs['reaching_clip']}\n{FOLDER}\n")
    paths = batch.expand_inputs([str(listing), str(inputs["thumbs_clip"]), str(inputs["raw_bag"])])
    assert paths == [inputs["raw_bag"], inputs["reaching_clip"], FOLDER, inputs["thumbs_clip"]]  # once each
    jobs = [batch.make_job(path, tmp_path / "out") for path in paths]
    assert [job.kind for job in jobs] == ["bag", "frames", "frames", "frames"]
    names = [Path(job.output).name for job in jobs]
    assert names[0].startswith("raw_bag-") and names[2].startswith("rock-") and names[2].endswith(".jsonl")
    assert names[1].startswith("clip-") and names[3].startswith("clip-") and names[1] != names[3]
    assert batch.input_kind(inputs["compressed_bag"]) == "bag"  # mcap, found by its metadata.yaml


def test_missing_ray_is_one_clear_error(inputs, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where Ray is not installed
    assert cli.main(["batch", str(inputs["reaching_clip"]), "--output", str(tmp_path / "out")]) == 1
    assert "batch processing needs Ray" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob(batch.PARTIAL_PREFIX + "*"))


def test_track_and_bag_never_import_ray(inputs, tmp_path):
    code = ("import sys\n"
            "from hand_tracking_ros import cli\n"
            f"assert cli.main(['track', {str(FOLDER / sorted(os.listdir(FOLDER))[0])!r}, '--output', "
            f"{str(tmp_path / 'one.jsonl')!r}]) == 0\n"
            f"assert cli.main(['bag', {str(inputs['raw_bag'])!r}, {str(tmp_path / 'bag')!r}, '--image-topic', "
            "'/cam/image_raw', '--model-complexity', '0']) == 0\n"
            "assert 'ray' not in sys.modules, 'ray was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    # The node needs rclpy, missing here: what it imports is read from its source instead.
    tree = ast.parse((Path(batch.__file__).parent / "node.py").read_text())
    statements = list(ast.walk(tree))
    imported = {alias.name for node in statements if isinstance(node, ast.Import) for alias in node.names}
    imported |= {"." * node.level + (node.module or "") for node in statements if isinstance(node, ast.ImportFrom)}
    assert imported and not {name for name in imported if name.split(".")[0] == "ray" or name.endswith("batch")}


class CallSizes:
    """Records how many streams each process_streams call of a real tracker gets (a spy: the calls still run)."""

    def __init__(self, tracker: HandTracker):
        self.sizes: list[tuple[int, bool]] = []
        self._process_streams = tracker.process_streams
        self._tracker = tracker
        tracker.process_streams = self

    def __call__(self, images, timestamp=None, **options):
        self.sizes.append((len(images), self._tracker.options.static_image_mode))
        return self._process_streams(images, timestamp, **options)


def test_inputs_side_by_side_share_inference_calls_and_keep_their_own_ids():
    """The GPU path, run on the CPU: three inputs through one tracker in three threads give exactly what each
    gives alone, while the tracker sees their frames together (two tracking streams in one call)."""
    clips = [read_video("videos/reaching_hand_640x360.mp4", max_frames=12),
             read_video("videos/thumbs_up_1280x720.mp4", max_frames=12)]
    photos = [cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB) for path in sorted(FOLDER.iterdir())[:4]]

    def run_alone(frames, static):
        tracker = HandTracker(model_complexity=0, static_image_mode=static)
        return [tracker.process(frame, None if static else index / 30) for index, frame in enumerate(frames)]

    expected = [run_alone(clips[0], False), run_alone(clips[1], False), run_alone(photos, True)]
    shared = batch.SharedTracker(HandTracker(model_complexity=0))
    spy = CallSizes(shared.tracker)
    got: list = [None, None, None]
    views = [shared.open(False), shared.open(False), shared.open(True)]  # all open before any frame

    def run_shared(slot, frames, view):
        with view:
            got[slot] = [view.process(frame, None if view.static_image_mode else index / 30)
                         for index, frame in enumerate(frames)]

    threads = [threading.Thread(target=run_shared, args=(slot, frames, view))
               for slot, (frames, view) in enumerate(zip([*clips, photos], views))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive()
    for alone, together in zip(expected, got):
        assert [[hand.id for hand in hands] for hands in together] == [[hand.id for hand in hands] for hands in alone]
        for hands_alone, hands_together in zip(alone, together):
            for a, b in zip(hands_alone, hands_together):
                np.testing.assert_allclose(b.landmarks, a.landmarks, atol=1e-3)
                assert (b.handedness, b.gesture) == (a.handedness, a.gesture)
    assert (2, False) in spy.sizes  # both clips' frames in one call
    assert (1, True) in spy.sizes   # photos in their own (static) calls
    assert sum(size for size, _ in spy.sizes) == 12 + 12 + 4


def test_default_image_topics_are_one_per_camera(tmp_path):
    from hand_tracking_ros.rosbags_messages import make_typestore
    from rosbags.rosbag2 import Writer

    typestore = make_typestore()
    with Writer(tmp_path / "bag", version=8) as writer:
        for topic, msgtype in (("/cam/image_raw", "sensor_msgs/msg/Image"),
                               ("/cam/image_raw/compressed", "sensor_msgs/msg/CompressedImage"),
                               ("/side/image/compressed", "sensor_msgs/msg/CompressedImage"),
                               ("/chatter", "std_msgs/msg/String")):
            writer.add_connection(topic, msgtype, typestore=typestore)
    # The camera recorded raw and compressed is tracked once, from its raw images.
    assert batch.bag_image_topics(tmp_path / "bag") == ["/cam/image_raw", "/side/image/compressed"]


def test_an_unreachable_cluster_is_refused_at_once():
    with pytest.raises(batch.BatchError, match="cannot reach the Ray cluster at 127.0.0.1:1"):
        batch.check_reachable("127.0.0.1:1")  # loopback, a port nothing listens on
    batch.check_reachable("auto")  # Ray finds those itself
