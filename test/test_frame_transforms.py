"""PoseArray into a target frame with a tf2 transform: the quaternion maths against rotation matrices."""

from __future__ import annotations

import numpy as np
import pytest

from hand_tracking_ros.frame_transforms import quaternion_multiply, rotate, transform_poses
from hand_tracking_ros.pose import rotation_to_quaternion


def random_rotations(rng: np.random.Generator, count: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(count, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    q[np.linalg.det(q) < 0, :, 0] *= -1  # proper rotations only
    return q


def matrix(quaternion: np.ndarray) -> np.ndarray:
    """The rotation matrix of a unit quaternion: the rotated basis vectors as columns."""
    return rotate(quaternion, np.eye(3)).T


def test_rotate_and_multiply_agree_with_rotation_matrices():
    rng = np.random.default_rng(0)
    first, second = random_rotations(rng, 20), random_rotations(rng, 20)
    for a, b in zip(first, second):
        qa, qb = rotation_to_quaternion(a), rotation_to_quaternion(b)
        np.testing.assert_allclose(matrix(qa), a, atol=1e-12)
        np.testing.assert_allclose(matrix(quaternion_multiply(qa, qb)), a @ b, atol=1e-12)


def test_a_quarter_turn_about_z():
    quarter = np.array([0.0, 0.0, np.sin(np.pi / 4), np.cos(np.pi / 4)])
    np.testing.assert_allclose(rotate(quarter, [1.0, 0.0, 0.0]), [0.0, 1.0, 0.0], atol=1e-12)


def test_poses_move_into_the_target_frame():
    """p_target = R p + t and o_target = R o for the transform tf2's lookup_transform(target, source) gives."""
    rng = np.random.default_rng(1)
    rotation, orientations = random_rotations(rng, 1)[0], random_rotations(rng, 5)
    translation = np.array([0.4, -0.1, 1.2])
    positions = rng.normal(size=(5, 3))
    quaternions = np.stack([rotation_to_quaternion(m) for m in orientations])
    # The transform's quaternion need not be normalised to the last digit (tf2 sends what it was given).
    moved, turned = transform_poses(positions, quaternions, translation, 1.0001 * rotation_to_quaternion(rotation))
    np.testing.assert_allclose(moved, positions @ rotation.T + translation, atol=1e-9)
    for quaternion, original in zip(turned, orientations):
        np.testing.assert_allclose(matrix(quaternion), rotation @ original, atol=1e-9)


def test_a_hand_without_a_pose_stays_nan_and_a_zero_rotation_is_refused():
    moved, turned = transform_poses(np.full((1, 3), np.nan), np.full((1, 4), np.nan), [1.0, 0, 0], [0, 0, 0, 1.0])
    assert np.isnan(moved).all() and np.isnan(turned).all()
    with pytest.raises(ValueError, match="not a rotation quaternion"):
        transform_poses(np.zeros((1, 3)), np.array([[0, 0, 0, 1.0]]), [0, 0, 0], [0, 0, 0, 0])


def test_pose_array_in_frame_with_message_classes():
    pytest.importorskip("rosbags", reason="rosbags is not installed (pip install -e \".[test]\")")
    from hand_tracking_ros.frame_transforms import pose_array_in_frame
    from hand_tracking_ros.rosbags_messages import make_typestore, message_namespace

    msgs = message_namespace(make_typestore())
    stamp = make_typestore().types["builtin_interfaces/msg/Time"](sec=7, nanosec=5)
    header = msgs.Header(stamp=stamp, frame_id="camera_optical_frame")
    poses = msgs.PoseArray(header=header, poses=[
        msgs.Pose(position=msgs.Point(x=0.1, y=0.2, z=0.5), orientation=msgs.Quaternion(x=0.0, y=0.0, z=0.0, w=1.0)),
        msgs.Pose(position=msgs.Point(x=np.nan, y=np.nan, z=np.nan),
                  orientation=msgs.Quaternion(x=np.nan, y=np.nan, z=np.nan, w=np.nan))])
    # base_link <- camera_optical_frame: the optical frame (z forward, x right, y down) of a camera at 1 m
    # height looking along base_link's x: optical z = base x, optical x = -base y, optical y = -base z.
    optical_in_base = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    qx, qy, qz, qw = rotation_to_quaternion(optical_in_base)
    transform = msgs.TransformStamped(
        header=msgs.Header(stamp=stamp, frame_id="base_link"), child_frame_id="camera_optical_frame",
        transform=msgs.Transform(translation=msgs.Vector3(x=0.0, y=0.0, z=1.0),
                                 rotation=msgs.Quaternion(x=qx, y=qy, z=qz, w=qw)))

    result = pose_array_in_frame(msgs, poses, transform)

    assert result.header.frame_id == "base_link" and result.header.stamp == stamp
    wrist = result.poses[0].position
    assert (wrist.x, wrist.y, wrist.z) == pytest.approx((0.5, -0.1, 0.8))  # 0.5 m ahead, 0.1 left, 0.2 lower
    orientation = result.poses[0].orientation
    np.testing.assert_allclose(matrix(np.array([orientation.x, orientation.y, orientation.z, orientation.w])),
                               optical_in_base, atol=1e-12)
    assert np.isnan(result.poses[1].position.x)
