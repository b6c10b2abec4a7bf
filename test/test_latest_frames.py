"""Newest-frame hand-off (no backlog, drops counted) and per-camera counters used by the node."""

from __future__ import annotations

import threading

import pytest

from hand_tracking_ros.latest_frames import CameraStats, LatestFrames


def test_a_new_frame_replaces_the_waiting_one_and_counts_a_drop():
    frames = LatestFrames()
    assert frames.put("left", 1) is False
    assert frames.put("left", 2) is True    # frame 1 is dropped, never processed
    assert frames.put("right", 10) is False
    assert frames.take_all(timeout=0) == {"left": 2, "right": 10}
    assert frames.take_all(timeout=0) == {}  # nothing waits any more: no backlog


def test_a_fast_camera_never_builds_a_queue():
    frames = LatestFrames()
    drops = sum(frames.put("cam", index) for index in range(1000))
    assert drops == 999 and frames.take_all(timeout=0) == {"cam": 999}


def test_take_all_waits_for_the_first_frame():
    frames = LatestFrames()
    threading.Timer(0.05, frames.put, args=("cam", "image")).start()
    assert frames.take_all(timeout=5.0) == {"cam": "image"}


def test_close_wakes_a_waiting_consumer():
    frames = LatestFrames()
    result = []
    consumer = threading.Thread(target=lambda: result.append(frames.take_all(timeout=30.0)))
    consumer.start()
    frames.close()
    consumer.join(timeout=5.0)
    assert not consumer.is_alive() and result == [{}] and frames.closed


def test_discard_forgets_a_removed_camera():
    frames = LatestFrames()
    frames.put("old", 1)
    frames.put("kept", 2)
    frames.discard("old")
    assert frames.take_all(timeout=0) == {"kept": 2}


def test_stats_rates_latency_and_counters():
    stats = CameraStats(window=5.0)
    for index in range(31):                      # 30 Hz input for one second
        stats.on_received(now=100.0 + index / 30, dropped_one=index % 2 == 1)
    for index in range(16):                      # every other frame processed, 40 ms after arrival
        stats.on_processed(arrival=100.0 + index / 15, hands=1, now=100.04 + index / 15)
    stats.on_bad_frame()
    summary = stats.summary(now=101.1)
    assert summary["input_rate_hz"] == pytest.approx(30.0)
    assert summary["processed_rate_hz"] == pytest.approx(15.0)
    assert summary["latency_ms_median"] == pytest.approx(40.0)
    assert (summary["frames_received"], summary["frames_processed"], summary["frames_dropped"],
            summary["frames_bad"], summary["hands"]) == (31, 16, 15, 1, 1)


def test_rates_fall_to_zero_when_the_camera_stops():
    stats = CameraStats(window=5.0)
    for index in range(10):
        stats.on_received(now=float(index))
    assert stats.summary(now=9.5)["input_rate_hz"] == pytest.approx(1.0)
    summary = stats.summary(now=30.0)
    assert summary["input_rate_hz"] == 0.0 and summary["frames_received"] == 10
