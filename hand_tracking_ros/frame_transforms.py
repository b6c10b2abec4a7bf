"""Poses moved into another frame with a transform looked up from tf2: plain quaternion maths, no
tf2_geometry_msgs.

tf2's ``lookup_transform(target, source, time)`` gives the transform T (translation t, rotation q) that
takes a point in the source frame into the target frame: ``p_target = R(q) p_source + t``. A pose
(position p, orientation o) in the source frame is then at ``R(q) p + t`` with orientation ``q * o`` in the
target frame. Quaternions are (x, y, z, w), as in geometry_msgs. A NaN pose (a hand without a metric pose
in ``ros_conversions.hand_poses``) stays NaN.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton products a * b of quaternions (..., 4) in (x, y, z, w) order: rotating by b, then by a."""
    ax, ay, az, aw = np.moveaxis(np.asarray(a, np.float64), -1, 0)
    bx, by, bz, bw = np.moveaxis(np.asarray(b, np.float64), -1, 0)
    return np.stack([aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw,
                     aw * bw - ax * bx - ay * by - az * bz], axis=-1)


def rotate(quaternion: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (..., 3) rotated by a unit quaternion (x, y, z, w)."""
    vector, w = np.asarray(quaternion[:3], np.float64), float(quaternion[3])
    points = np.asarray(points, np.float64)
    twice_cross = 2.0 * np.cross(vector, points)
    return points + w * twice_cross + np.cross(vector, twice_cross)


def transform_poses(positions: np.ndarray, orientations: np.ndarray, translation: np.ndarray,
                    rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (N, 3) and orientations (N, 4) in the source frame, in the target frame of the transform
    (``translation`` (3,), ``rotation`` (4,) (x, y, z, w), normalised here)."""
    rotation = np.asarray(rotation, np.float64)
    norm = np.linalg.norm(rotation)
    if not (np.isfinite(norm) and norm > 0):
        raise ValueError(f"transform rotation {rotation.tolist()} is not a rotation quaternion")
    rotation = rotation / norm
    return (rotate(rotation, positions) + np.asarray(translation, np.float64),
            quaternion_multiply(rotation, orientations))


def _xyz(vector) -> list[float]:
    return [vector.x, vector.y, vector.z]


def pose_array_in_frame(msgs: SimpleNamespace, pose_array, transform_stamped) -> object:
    """The PoseArray ``pose_array`` in the target frame of ``transform_stamped`` (a TransformStamped from
    ``lookup_transform(target, pose_array.header.frame_id, stamp)``): its header is the transform's target
    frame with the poses' own stamp; poses in the same order. ``msgs`` as in ``ros_conversions``."""
    transform = transform_stamped.transform
    poses = pose_array.poses
    positions = np.array([_xyz(pose.position) for pose in poses], np.float64).reshape(-1, 3)
    orientations = np.array([[*_xyz(pose.orientation), pose.orientation.w] for pose in poses],
                            np.float64).reshape(-1, 4)
    rotation = [*_xyz(transform.rotation), transform.rotation.w]
    positions, orientations = transform_poses(positions, orientations, _xyz(transform.translation), rotation)
    header = msgs.Header(stamp=pose_array.header.stamp, frame_id=transform_stamped.header.frame_id)
    return msgs.PoseArray(header=header, poses=[
        msgs.Pose(position=msgs.Point(x=x, y=y, z=z), orientation=msgs.Quaternion(x=qx, y=qy, z=qz, w=qw))
        for (x, y, z), (qx, qy, qz, qw) in zip(positions.tolist(), orientations.tolist())])
