"""Handedness averaged over the life of a track.

Per-frame handedness flips are the most reported MediaPipe complaint (reference doc section 3, issues
#1341, #3047); averaging the probability over a track (as geaxgx's depthai_hand_tracker does, doc 1.9)
makes one hand keep one label. The per-frame value stays available in ``Hand.frame_handedness``.
"""

from __future__ import annotations

from collections.abc import Iterable


def right_probability(label: str, score: float) -> float:
    """P(right hand) from a label ("left"/"right") and its confidence in [0.5, 1]."""
    if label not in ("left", "right"):
        raise ValueError(f'handedness label must be "left" or "right", got {label!r}')
    return float(score) if label == "right" else 1.0 - float(score)


class HandednessAverager:
    """Running mean of P(right) per track id; ``forget`` the ids of tracks that ended."""

    def __init__(self) -> None:
        self._sums: dict[int, tuple[float, int]] = {}  # id -> (sum of P(right), frames)

    def update(self, track_id: int, label: str, score: float) -> tuple[str, float]:
        """Add this frame's label and confidence; return the track's averaged label and confidence."""
        total, count = self._sums.get(track_id, (0.0, 0))
        total, count = total + right_probability(label, score), count + 1
        self._sums[track_id] = (total, count)
        mean = total / count
        return ("right", mean) if mean >= 0.5 else ("left", 1.0 - mean)

    def forget(self, track_ids: Iterable[int]) -> None:
        for track_id in track_ids:
            self._sums.pop(track_id, None)

    def reset(self) -> None:
        self._sums.clear()
