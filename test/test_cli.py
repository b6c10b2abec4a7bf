"""`hand-tracking track`: JSON line schema, sources, annotation and errors, run as users run it."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution, entry_points

import cv2
import pytest
from conftest import DATA_DIR

HAND_KEYS = {"id", "handedness", "handedness_score", "presence", "landmarks", "world_landmarks", "gesture"}


def track(*arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "hand_tracking_ros.cli", "track", *arguments],
                            capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


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
    assert result.stderr == ""  # no progress bar when standard error is not a terminal


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
    track(str(DATA_DIR / "videos/reaching_hand_640x360.mp4"), "--max-hands", "1", "--model-complexity", "0",
          "--output", str(output), "--annotate", str(annotated))
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(records) == 202
    for record in records[::20]:
        assert_schema(record)
    assert {record["source"] for record in records} == {None}
    assert {hand["id"] for record in records for hand in record["hands"]} == {0}
    assert int(cv2.VideoCapture(str(annotated)).get(cv2.CAP_PROP_FRAME_COUNT)) == 202


@pytest.mark.parametrize("arguments, message", [
    (["/no/such/file.png"], "not an image, a folder, a video file or a camera index"),
    ([str(DATA_DIR / "hands/hand_left.jpg"), "--max-hands", "0"], "at least 1"),
    ([str(DATA_DIR / "README.md")], "cannot read"),
])
def test_bad_sources_give_clear_errors(arguments, message):
    result = track(*arguments, check=False)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_undecodable_image_in_folder_is_skipped_with_a_warning(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"this is not a jpeg")
    cv2.imwrite(str(tmp_path / "hand.png"), cv2.imread(str(DATA_DIR / "hands/hand_left.jpg")))
    result = track(str(tmp_path), check=False)
    assert result.returncode == 1
    assert "cannot decode image" in result.stderr and "broken.jpg" in result.stderr
    assert [json.loads(line)["source"] for line in result.stdout.splitlines()] == ["hand.png"]
