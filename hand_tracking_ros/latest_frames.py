"""Newest-frame hand-off between subscription callbacks and the inference thread, and per-camera counters.

A camera usually delivers frames faster than inference on a CPU can take them. Queuing them would add
latency without bound, so each camera keeps only its newest unprocessed frame: a new frame replaces the
waiting one, and the replaced one is counted as dropped.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Generic, Hashable, TypeVar

Key = TypeVar("Key", bound=Hashable)
Frame = TypeVar("Frame")


class LatestFrames(Generic[Key, Frame]):
    """At most one waiting frame per camera."""

    def __init__(self) -> None:
        self._waiting: dict[Key, Frame] = {}
        self._condition = threading.Condition()
        self._closed = False

    def put(self, camera: Key, frame: Frame) -> bool:
        """Make ``frame`` the camera's waiting frame; True when it replaced one (that one is dropped)."""
        with self._condition:
            replaced = camera in self._waiting
            self._waiting[camera] = frame
            self._condition.notify()
            return replaced

    def take_all(self, timeout: float | None = None) -> dict[Key, Frame]:
        """Every waiting frame, one per camera (processed together in one batch), waiting up to ``timeout``
        seconds for the first; empty on timeout or after ``close``."""
        with self._condition:
            self._condition.wait_for(lambda: self._waiting or self._closed, timeout)
            if self._closed:
                return {}
            waiting, self._waiting = self._waiting, {}
            return waiting

    def discard(self, camera: Key) -> None:
        """Forget a camera's waiting frame (the camera was removed)."""
        with self._condition:
            self._waiting.pop(camera, None)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Wake up and end every ``take_all``, now and later."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


@dataclass
class CameraStats:
    """Counters of one camera since start-up, and rates over a sliding time window (seconds)."""

    window: float = 5.0
    received: int = 0
    processed: int = 0
    dropped: int = 0
    bad: int = 0
    last_hands: int = 0
    _processed_at: deque = field(default_factory=deque)   # monotonic end time of each processed frame
    _received_at: deque = field(default_factory=deque)
    _latencies: deque = field(default_factory=deque)      # (end time, seconds from arrival to published)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_received(self, now: float | None = None, dropped_one: bool = False) -> None:
        with self._lock:
            self.received += 1
            self.dropped += int(dropped_one)
            self._received_at.append(time.monotonic() if now is None else now)

    def on_processed(self, arrival: float, hands: int, now: float | None = None) -> None:
        """A frame that arrived at monotonic time ``arrival`` was published with ``hands`` hands."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self.processed += 1
            self.last_hands = hands
            self._processed_at.append(now)
            self._latencies.append((now, now - arrival))

    def on_bad_frame(self) -> None:
        with self._lock:
            self.bad += 1

    def summary(self, now: float | None = None) -> dict[str, float | int]:
        """Counters since start-up; rates (Hz) and latency (ms, arrival to published) over the last window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            horizon = now - self.window
            for times in (self._processed_at, self._received_at):
                while times and times[0] < horizon:
                    times.popleft()
            while self._latencies and self._latencies[0][0] < horizon:
                self._latencies.popleft()
            latencies_ms = sorted(1000.0 * latency for _, latency in self._latencies)
            return {
                "input_rate_hz": _rate(self._received_at),
                "processed_rate_hz": _rate(self._processed_at),
                "latency_ms_median": latencies_ms[len(latencies_ms) // 2] if latencies_ms else 0.0,
                "latency_ms_max": latencies_ms[-1] if latencies_ms else 0.0,
                "frames_received": self.received,
                "frames_processed": self.processed,
                "frames_dropped": self.dropped,
                "frames_bad": self.bad,
                "hands": self.last_hands,
            }


def _rate(times: deque) -> float:
    """Events per second between the first and the last of ``times``; 0 with fewer than two."""
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])
