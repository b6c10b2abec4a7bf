"""`hand-tracking track`: JSON line schema, sources, annotation and errors, run as users run it."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, distribution, entry_points

import cv2
import numpy as np
import pytest
from conftest import DATA_DIR, read_video

from hand_tracking_ros.cli import TrackSummary, main, track_source
from hand_tracking_ros.sources import FrameSource

VIDEO = DATA_DIR / "videos/reaching_hand_640x360.mp4"
SUMMARY = re.compile(r"^hand-tracking: (\d+) frames, (\d+) with hands, (\d+) skipped(?: \((.*)\))?$")

HAND_KEYS = {"id", "handedness", "handedness_score", "presence", "landmarks", "world_landmarks", "gesture",
             "landmarks_camera", "finger_flexion"}


def command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "hand_tracking_ros.cli", "track", *arguments]


def track(*arguments: str, check: bool = True, **options) -> subprocess.CompletedProcess:
    result = subprocess.run(command(*arguments), capture_output=True, text=True, timeout=300, **options)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def summary_of(stderr: str) -> tuple[int, int, int, str]:
    """The counts of the run's summary line, which is the last line of standard error."""
    match = SUMMARY.match(stderr.splitlines()[-1])
    assert match, stderr
    frames, with_hands, skipped, reasons = match.groups()
    return int(frames), int(with_hands), int(skipped), reasons or ""


def assert_schema(record: dict) -> None:
    assert set(record) == {"source", "frame", "width", "height", "hands"}
    assert isinstance(record["frame"], int) and isinstance(record["width"], int) and isinstance(record["height"], int)
    for hand in record["hands"]:
        assert set(hand) == HAND_KEYS
        assert isinstance(hand["id"], int)
        assert hand["handedness"] in ("left", "right")
        assert 0.5 <= hand["handedness_score"] <= 1 and 0 <= hand["presence"] <= 1
        assert len(hand["landmarks"]) == 21 and all(len(point) == 3 for point in hand["landmarks"])
        assert len(hand["world_landmarks"]) == 21 and all(len(point) == 3 for point in hand["world_landmarks"])
        assert hand["gesture"] is None or isinstance(hand["gesture"], str)
        assert hand["landmarks_camera"] is None  # the track command has no camera intrinsics
        assert len(hand["finger_flexion"]) == 15 and all(0 <= angle < 3.2 for angle in hand["finger_flexion"])


def test_console_script_is_declared():
    try:
        declared = distribution("hand_tracking_ros").entry_points
    except PackageNotFoundError:
        declared = []
    if not declared:
        pytest.skip("hand_tracking_ros is not pip-installed here (a colcon build installs no console scripts)")
    scripts = {entry.name: entry.value for entry in entry_points(group="console_scripts")}
    assert scripts.get("hand-tracking") == "hand_tracking_ros.cli:main"


def test_image_to_stdout_and_annotated_image(tmp_path):
    annotated = tmp_path / "annotated.png"
    result = track(str(DATA_DIR / "hands/hand_left.jpg"), "--annotate", str(annotated))
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert_schema(record)
    assert record["source"] == "hand_left.jpg" and record["frame"] == 0
    assert (record["width"], record["height"]) == (640, 427)
    assert len(record["hands"]) == 1
    x, y, _ = record["hands"][0]["landmarks"][0]
    assert 0 <= x < 640 and 0 <= y < 427
    drawn = cv2.imread(str(annotated))
    original = cv2.imread(str(DATA_DIR / "hands/hand_left.jpg"))
    assert drawn.shape == original.shape and (drawn != original).any()
    # No progress bar when standard error is not a terminal: only the summary.
    assert result.stderr == "hand-tracking: 1 frames, 1 with hands, 0 skipped\n"


def test_folder_sorted_by_name_to_file(tmp_path):
    output = tmp_path / "hands.jsonl"
    track(str(DATA_DIR / "hands/assorted"), "--max-hands", "1", "--output", str(output),
          "--annotate", str(tmp_path / "drawn"))
    records = [json.loads(line) for line in output.read_text().splitlines()]
    names = [record["source"] for record in records]
    assert names == sorted(names) and len(names) == 12
    assert [record["frame"] for record in records] == list(range(12))
    assert all(len(record["hands"]) <= 1 for record in records)
    assert sum(len(record["hands"]) for record in records) == 12
    assert sorted(path.name for path in (tmp_path / "drawn").iterdir()) == names


def test_video_frames_have_null_source_and_stable_ids(tmp_path):
    output = tmp_path / "video.jsonl"
    annotated = tmp_path / "video.mp4"
    result = track(str(VIDEO), "--max-hands", "1", "--model-complexity", "0",
                   "--output", str(output), "--annotate", str(annotated))
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(records) == 202
    frames, with_hands, skipped, _ = summary_of(result.stderr)
    assert (frames, skipped) == (202, 0) and with_hands == sum(bool(record["hands"]) for record in records)
    for record in records[::20]:
        assert_schema(record)
    assert {record["source"] for record in records} == {None}
    assert {hand["id"] for record in records for hand in record["hands"]} == {0}
    assert int(cv2.VideoCapture(str(annotated)).get(cv2.CAP_PROP_FRAME_COUNT)) == 202


@pytest.mark.parametrize("arguments, message", [
    (["/no/such/file.png"], "source /no/such/file.png does not exist"),
    ([str(DATA_DIR / "README.md")], "cannot read"),
    (["99999999999999999999"], "camera index 99999999999999999999 is out of range"),
])
def test_bad_sources_give_clear_errors(arguments, message):
    result = track(*arguments, check=False)
    assert result.returncode == 1
    assert f"hand-tracking: error: {message}" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("arguments, flag, option", [
    (["--max-hands", "0"], "--max-hands", "max_num_hands"),
    (["--detection-interval", "0"], "--detection-interval", "detection_interval"),
    (["--min-detection-confidence", "nan"], "--min-detection-confidence", "min_detection_confidence"),
])
def test_bad_option_values_are_usage_errors_naming_the_flag(arguments, flag, option):
    result = track(str(DATA_DIR / "hands/hand_left.jpg"), *arguments, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"error: argument {flag}: must be" in result.stderr and option not in result.stderr


def test_a_fifo_as_source_is_refused(tmp_path):
    os.mkfifo(tmp_path / "camera.jpg")
    result = track(str(tmp_path / "camera.jpg"), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is not a regular file" in result.stderr


def copy_of_data(tmp_path, *relative_paths: str):
    """Copies of real data files in tmp_path, to run where a mistake could write over them."""
    copies = [tmp_path / os.path.basename(path) for path in relative_paths]
    for path, copy in zip(relative_paths, copies):
        shutil.copyfile(DATA_DIR / path, copy)
    return copies


def test_outputs_that_cannot_be_written_or_would_overwrite_the_input_are_refused_before_any_write(tmp_path):
    image, video = copy_of_data(tmp_path, "hands/hand_left.jpg", "videos/reaching_hand_640x360.mp4")
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copyfile(image, folder / image.name)
    originals = {path: path.read_bytes() for path in (image, video, folder / image.name)}
    cases = [
        ([str(image), "--output", str(tmp_path / "missing/hands.jsonl")], "folder"),
        ([str(image), "--output", str(tmp_path)], "is a folder"),
        ([str(image), "--output", str(image)], "is the source"),
        ([str(folder), "--output", str(folder / image.name)], "is the source"),
        ([str(video), "--output", str(video)], "is the source"),
        ([str(image), "--annotate", str(tmp_path / "drawn")], "image file"),
        ([str(image), "--annotate", str(image)], "is the source"),
        ([str(image), "--annotate", str(tmp_path)], "overwrite"),
        ([str(folder), "--annotate", str(folder)], "overwrite"),
        ([str(folder), "--annotate", str(tmp_path / "drawn.jpg")], "annotated into a folder"),
        ([str(video), "--annotate", str(tmp_path / "drawn.jpg")], ".mp4 or .avi"),
        ([str(video), "--annotate", str(tmp_path / "drawn")], ".mp4 or .avi"),
        ([str(video), "--annotate", str(video)], "is the source"),
        ([str(image), "--output", str(tmp_path / "same.png"), "--annotate", str(tmp_path / "same.png")],
         "same file"),
    ]
    for arguments, message in cases:
        result = track(*arguments, check=False)
        assert result.returncode == 1, arguments
        assert result.stderr.startswith("hand-tracking: error: ") and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
    assert {path: path.read_bytes() for path in originals} == originals
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([image.name, video.name, folder.name])


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
@pytest.mark.parametrize("into", ["--output", "standard output"])
def test_a_full_disk_is_a_clear_error(into):
    arguments = ["--output", "/dev/full"] if into == "--output" else []
    with open("/dev/full", "w") as full:
        result = subprocess.run(command(str(DATA_DIR / "hands/assorted"), *arguments),
                                stdout=subprocess.DEVNULL if arguments else full, stderr=subprocess.PIPE,
                                text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr.endswith("No space left on device\n") and "Traceback" not in result.stderr
    assert "Exception ignored" not in result.stderr  # Python's own flush at exit does not fail again


def test_closed_standard_output_is_a_clear_error():
    result = track(str(DATA_DIR / "hands/hand_left.jpg"), check=False, preexec_fn=lambda: os.close(1))
    assert result.returncode == 1
    assert result.stderr == "hand-tracking: error: standard output is closed; give --output FILE\n"


def test_closed_standard_error_keeps_messages_out_of_the_json_lines(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"this is not a jpeg")
    copy_of_data(tmp_path, "hands/hand_left.jpg")
    result = subprocess.run(command(str(tmp_path)), stdout=subprocess.PIPE, text=True, timeout=300,
                            preexec_fn=lambda: os.close(2))
    assert result.returncode == 1  # the skipped image
    assert [json.loads(line)["source"] for line in result.stdout.splitlines()] == ["hand_left.jpg"]


def test_a_reader_that_stops_early_ends_the_run_quietly():
    # 202 frames of JSON are far more than a pipe buffers, so the run writes into the closed pipe.
    process = subprocess.Popen(command(str(VIDEO), "--model-complexity", "0"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert json.loads(process.stdout.readline())["frame"] == 0
    process.stdout.close()  # as `| head -1` does
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0 and stderr == ""


def long_video(path: Path, repeats: int) -> int:
    """VIDEO played ``repeats`` times into ``path``: long enough that a run is still going when the test
    interrupts it, however fast this machine is. Returns its number of frames."""
    frames = [cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) for frame in read_video(str(VIDEO.relative_to(DATA_DIR)))]
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (width, height))
    for frame in frames * repeats:
        writer.write(frame)
    writer.release()
    return len(frames) * repeats


def test_ctrl_c_leaves_finished_outputs_and_a_summary(tmp_path):
    output, annotated = tmp_path / "hands.jsonl", tmp_path / "drawn.mp4"
    video = tmp_path / "long.mp4"
    total = long_video(video, repeats=15)
    process = subprocess.Popen(command(str(video), "--model-complexity", "0", "--output", str(output),
                                       "--annotate", str(annotated)), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (output.exists() and output.stat().st_size) and process.poll() is None:  # some frames done
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130 and "Traceback" not in stderr
    assert stderr.splitlines()[-1].endswith(", interrupted")
    records = [json.loads(line) for line in output.read_text().splitlines()]  # every line whole
    assert 0 < len(records) < total and summary_of(stderr.removesuffix(", interrupted\n"))[0] == len(records)
    # The video is finished (an unfinished mp4 has no index and opens with no frames); the interrupt may
    # have come between a frame's JSON line and its annotation.
    assert len(records) - 1 <= int(cv2.VideoCapture(str(annotated)).get(cv2.CAP_PROP_FRAME_COUNT)) <= len(records)


def test_every_bad_image_in_a_folder_is_skipped_with_its_reason_and_the_rest_processed(tmp_path):
    (hand,) = copy_of_data(tmp_path, "hands/hand_left.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"this is not a jpeg")
    (tmp_path / "empty.png").touch()
    os.mkfifo(tmp_path / "pipe.jpg")  # reading it would wait for a writer forever
    real = cv2.imread(str(DATA_DIR / "hands/victory.jpg"))
    cv2.imwrite(str(tmp_path / "wide.png"), cv2.resize(real, (17000, 40)))  # over the tracker's 16384 a side
    result = track(str(tmp_path), "--max-hands", "1", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert [json.loads(line)["source"] for line in result.stdout.splitlines()] == ["hand_left.jpg"]
    for name in ("broken.jpg", "empty.png", "pipe.jpg", "wide.png"):
        assert name in result.stderr
    assert summary_of(result.stderr) == (
        1, 1, 4, "1 cannot decode, 1 empty file, 1 invalid image, 1 not a regular file")


def test_undecodable_image_in_folder_is_skipped_with_a_warning(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"this is not a jpeg")
    cv2.imwrite(str(tmp_path / "hand.png"), cv2.imread(str(DATA_DIR / "hands/hand_left.jpg")))
    result = track(str(tmp_path), check=False)
    assert result.returncode == 1
    assert "cannot decode image" in result.stderr and "broken.jpg" in result.stderr
    assert [json.loads(line)["source"] for line in result.stdout.splitlines()] == ["hand.png"]


def test_track_source_runs_a_source_into_a_stream(tmp_path):
    from hand_tracking_ros.tracker import HandTracker

    (tmp_path / "broken.jpg").write_bytes(b"this is not a jpeg")
    copy_of_data(tmp_path, "hands/hand_left.jpg", "hands/thumb_up_2.jpg")
    tracker = HandTracker(static_image_mode=True, max_num_hands=1)
    for source in (str(tmp_path), FrameSource(str(tmp_path))):
        output = io.StringIO()
        summary = track_source(source, output, tracker, annotate=tmp_path / "drawn")
        assert summary == TrackSummary(frames=2, frames_with_hands=2, skipped={"cannot decode": 1})
        records = [json.loads(line) for line in output.getvalue().splitlines()]
        assert [record["source"] for record in records] == ["hand_left.jpg", "thumb_up_2.jpg"]
        assert sorted(path.name for path in (tmp_path / "drawn").iterdir()) == ["hand_left.jpg", "thumb_up_2.jpg"]


def test_a_tracker_with_intrinsics_gives_landmarks_in_the_camera_frame():
    from hand_tracking_ros.pose import CameraIntrinsics
    from hand_tracking_ros.tracker import HandTracker

    tracker = HandTracker(static_image_mode=True, max_num_hands=1)
    tracker.set_camera_intrinsics(CameraIntrinsics(fx=640.0, fy=640.0, cx=320.0, cy=213.5, width=640, height=427))
    output = io.StringIO()
    track_source(DATA_DIR / "hands/hand_left.jpg", output, tracker)
    (hand,) = json.loads(output.getvalue())["hands"]
    assert set(hand) == HAND_KEYS
    wrist = np.array(hand["landmarks_camera"][0])
    assert len(hand["landmarks_camera"]) == 21 and 0.1 < wrist[2] < 3.0
    # Near the wrist's pixel: the hand-model pose places the model's hand shape as a whole (15 px off here).
    assert wrist[:2] / wrist[2] * 640 + [320, 213.5] == pytest.approx(hand["landmarks"][0][:2], abs=30)
    # A thumb up (hand_left.jpg): the four fingers curled at their PIP joints (about 1.1 to 1.7 rad), the
    # thumb's joints straight (under 0.4).
    assert min(hand["finger_flexion"][4::3]) > 0.8 and max(hand["finger_flexion"][:3]) < 0.6


def test_help_documents_the_exit_status(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["track", "--help"])
    assert exit_info.value.code == 0
    epilog = capsys.readouterr().out.split("exit status:")[1]
    for code in ("0", "1", "2", "130"):
        assert re.search(rf"^\s+{code}\s", epilog, re.MULTILINE)
