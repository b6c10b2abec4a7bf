"""Which depth image goes with a colour image: approximate-time matching by header stamp.

RGB-D drivers publish the aligned depth image on its own topic, usually with the colour image's stamp but
a little after it (``aligned_depth_to_color`` is computed from the colour frame). Each camera keeps its
last ``DEPTH_HISTORY`` depth messages; a colour image stamped ``t`` takes the one nearest to ``t`` within
``slop`` seconds, as message_filters' ApproximateTime does for a pair. It waits for that depth message while
one may still come: until a depth message stamped at ``t`` or later has arrived (later ones are farther
from ``t``), or for at most a time limit. The node waits ``depth_slop`` seconds of wall time
(``DepthHistory.wait_until_settled``); the bag command, offline, holds the colour image back until such a
depth message is read or ``bag.DEPTH_LOOKAHEAD_S`` of bag time has gone by (``settled``). No match: the
colour image is tracked without depth (the hand-model pose), never dropped.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

Depth = TypeVar("Depth")

# Depth messages kept per camera: half a second at 30 fps, more than the age of the colour image that the
# inference thread takes (the newest) when it gets to it.
DEPTH_HISTORY = 15


def stamp_seconds(header) -> float:
    """A std_msgs/Header's stamp in seconds (either message flavour)."""
    return header.stamp.sec + 1e-9 * header.stamp.nanosec


class DepthHistory(Generic[Depth]):
    """The recent depth messages of one camera, by stamp (seconds). Thread-safe: a subscription callback
    puts, the inference thread matches."""

    def __init__(self, slop: float, capacity: int = DEPTH_HISTORY) -> None:
        if not slop >= 0:
            raise ValueError(f"slop must be a number of seconds >= 0, got {slop!r}")
        self.slop = float(slop)
        self._entries: deque[tuple[float, Depth]] = deque(maxlen=capacity)
        self._condition = threading.Condition()

    def put(self, stamp: float, depth: Depth) -> None:
        with self._condition:
            self._entries.append((float(stamp), depth))
            self._condition.notify_all()

    def settled(self, stamp: float) -> bool:
        """True when no depth message still to come can be nearer to ``stamp`` than those here: one stamped
        at ``stamp`` or later has arrived."""
        with self._condition:
            return self._settled(stamp)

    def _settled(self, stamp: float) -> bool:
        return any(entry_stamp >= stamp for entry_stamp, _ in self._entries)

    def wait_until_settled(self, stamp: float, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for ``settled(stamp)``; whether it is."""
        with self._condition:
            return self._condition.wait_for(lambda: self._settled(stamp), timeout)

    def match(self, stamp: float) -> Depth | None:
        """The depth message nearest to ``stamp`` within ``slop`` (the later one of two equally near), or
        None."""
        with self._condition:
            best = min(self._entries, key=lambda entry: (abs(entry[0] - stamp), -entry[0]), default=None)
        return best[1] if best is not None and abs(best[0] - stamp) <= self.slop else None

    def clear(self) -> None:
        with self._condition:
            self._entries.clear()
