"""Approximate-time matching of depth images to colour images by stamp (depth_matching)."""

from __future__ import annotations

import threading

import pytest

from hand_tracking_ros.depth_matching import DepthHistory, stamp_seconds


def test_the_nearest_depth_within_the_slop_is_matched():
    history = DepthHistory(slop=0.02)
    for stamp in (10.000, 10.033, 10.066):
        history.put(stamp, f"depth at {stamp:.3f}")
    assert history.match(10.030) == "depth at 10.033"
    assert history.match(10.066) == "depth at 10.066"
    assert history.match(10.050) == "depth at 10.066"  # 16 ms after 10.033, 16 ms before 10.066: the later one
    assert history.match(10.100) is None                # 34 ms from the nearest: outside the slop
    assert history.match(9.970) is None


def test_settled_once_a_depth_at_or_after_the_stamp_has_arrived():
    history = DepthHistory(slop=0.05)
    history.put(1.0, "first")
    assert not history.settled(1.02)  # a nearer depth image may still come
    assert history.match(1.02) == "first"
    history.put(1.02, "second")
    assert history.settled(1.02) and history.match(1.02) == "second"
    assert not history.wait_until_settled(1.5, timeout=0.0)


def test_waiting_ends_when_the_depth_arrives_from_another_thread():
    history = DepthHistory(slop=0.05)
    started, results = threading.Event(), []

    def inference_thread():
        started.set()
        results.append(history.wait_until_settled(2.0, timeout=60.0))

    thread = threading.Thread(target=inference_thread)
    thread.start()
    started.wait()
    history.put(1.99, "early")   # not yet: a nearer one may come
    history.put(2.0, "matching")
    thread.join(timeout=60.0)
    assert results == [True] and history.match(2.0) == "matching"


def test_only_the_newest_messages_are_kept():
    history = DepthHistory(slop=1.0, capacity=3)
    for stamp in range(5):
        history.put(float(stamp), stamp)
    assert history.match(1.2) == 2  # 0 and 1 fell out: 2 is the nearest left, within the slop
    history.clear()
    assert history.match(4.0) is None


def test_a_negative_or_nan_slop_is_refused():
    for slop in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="slop must be"):
            DepthHistory(slop=slop)


def test_stamp_seconds_of_a_header():
    class Stamp:
        sec, nanosec = 12, 500_000_000

    class Header:
        stamp = Stamp()

    assert stamp_seconds(Header()) == 12.5
