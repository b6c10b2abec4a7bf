"""Core results to ROS messages: HandLandmarksArray, wrist PoseArray, TF frames and RViz markers, for any
message implementation.

The same code fills rclpy's generated classes (in the node) and rosbags' dataclasses (in bag processing):
callers pass ``msgs``, a namespace whose attributes, named as the keys of ``MESSAGE_TYPES``, are message
constructors that take keyword arguments for any subset of fields. rclpy's classes do this already;
``rosbags_messages.message_namespace`` wraps rosbags' classes to do the same. Every field whose ROS default
differs from zero (quaternion w) is set explicitly, because rosbags has no field defaults.

Marker geometry (see ``landmarks_in_camera``): markers are in the image's optical frame (x right, y down,
z forward, metres). A hand with a valid metric pose (``hand.pose``, which the tracker computes when it has
the camera's intrinsics from camera_info) is drawn where it is. Otherwise its landmarks are back-projected
through the camera's pinhole model (from camera_info, lens distortion ignored, or else an assumed one:
focal length = image width in pixels, about 53 degrees horizontal field of view, principal point at the
image centre) to the depth ``assumed_depth`` plus the world landmarks' relative depth, so the hand's
shape and place in the image are right but its distance is a guess.

Wrist poses (``hand_poses``, ``hand_transforms``) are the frames of ``hand_frame.wrist_frames`` (axes in
its module doc), built from the metric landmarks ``HandPose.landmarks_camera``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Callable, Sequence

import numpy as np

from .drawing import hand_label
from .hand_frame import wrist_frames
from .pose import CameraIntrinsics, HandPose, rotation_to_quaternion
from .types import HAND_CONNECTIONS, NUM_LANDMARKS, Hand

MESSAGE_TYPES = {
    "ColorRGBA": "std_msgs/msg/ColorRGBA",
    "Header": "std_msgs/msg/Header",
    "Point": "geometry_msgs/msg/Point",
    "Pose": "geometry_msgs/msg/Pose",
    "Quaternion": "geometry_msgs/msg/Quaternion",
    "Vector3": "geometry_msgs/msg/Vector3",
    "PoseArray": "geometry_msgs/msg/PoseArray",
    "Transform": "geometry_msgs/msg/Transform",
    "TransformStamped": "geometry_msgs/msg/TransformStamped",
    "TFMessage": "tf2_msgs/msg/TFMessage",
    "Marker": "visualization_msgs/msg/Marker",
    "MarkerArray": "visualization_msgs/msg/MarkerArray",
    "HandLandmarks": "hand_tracking_ros/msg/HandLandmarks",
    "HandLandmarksArray": "hand_tracking_ros/msg/HandLandmarksArray",
}

# Marker sizes in metres, chosen for a hand about 0.2 m long seen from 0.3 to 1 m.
LANDMARK_DIAMETER = 0.012
BONE_WIDTH = 0.004
LABEL_HEIGHT = 0.025
LABEL_CLEARANCE = 0.03  # gap between the hand's top landmark and its label

# RGBA colours: landmarks by handedness, bones and labels in one neutral colour.
HANDEDNESS_COLORS = {"left": (1.0, 0.55, 0.1, 1.0), "right": (0.15, 0.6, 1.0, 1.0)}
UNKNOWN_HANDEDNESS_COLOR = (0.8, 0.8, 0.8, 1.0)
BONE_COLOR = (0.95, 0.95, 0.95, 1.0)


def message_namespace(load: Callable[[str], Callable]) -> SimpleNamespace:
    """A ``msgs`` namespace: ``load`` maps a type name such as "geometry_msgs/msg/Point" to a constructor."""
    return SimpleNamespace(**{name: load(typename) for name, typename in MESSAGE_TYPES.items()})


def camera_intrinsics(camera_info) -> CameraIntrinsics | None:
    """Intrinsics from a sensor_msgs/CameraInfo (either message flavour); None when it holds none.

    An all-zero K is an uncalibrated camera. Focal lengths under a tenth of the image width (a field of
    view over 157 degrees) are placeholders, such as image_publisher's fx = fy = 1 when it is given no
    field of view: a pose computed with them would be wrong, not merely imprecise. Raises ValueError, naming
    what is wrong, for calibrations the pose code cannot use: an unknown distortion model, a distortion list
    of a length OpenCV does not take (plumb_bob with 100 values), values that are not finite."""
    k = np.asarray(camera_info.k, np.float64).ravel()
    width = camera_info.width
    if k.size == 9 and np.isfinite(k).all() and not (k[0] >= 0.1 * width and k[4] >= 0.1 * width and k[0] > 0
                                                     and k[4] > 0):
        return None
    return CameraIntrinsics.from_camera_info(k, camera_info.d, camera_info.width, camera_info.height,
                                             camera_info.distortion_model)


def assumed_intrinsics(width: int, height: int) -> CameraIntrinsics:
    """A typical webcam: focal length = image width (about 53 degrees horizontal field of view)."""
    return CameraIntrinsics(fx=float(width), fy=float(width), cx=width / 2.0, cy=height / 2.0,
                            width=width, height=height)


def _valid_pose(hand: Hand) -> HandPose | None:
    pose = getattr(hand, "pose", None)
    return pose if pose is not None and pose.valid else None


def landmarks_in_camera(hand: Hand, camera: CameraIntrinsics, assumed_depth: float) -> np.ndarray:
    """(21, 3) landmark positions in metres in the camera's optical frame, for drawing (module doc)."""
    pose = _valid_pose(hand)
    if pose is not None:
        return np.asarray(pose.landmarks_camera, np.float64)
    depth = assumed_depth + np.asarray(hand.world_landmarks, np.float64)[:, 2]
    pixels = np.asarray(hand.landmarks, np.float64)[:, :2]
    x = (pixels[:, 0] - camera.cx) / camera.fx * depth
    y = (pixels[:, 1] - camera.cy) / camera.fy * depth
    return np.stack([x, y, depth], axis=1)


def _points(msgs: SimpleNamespace, xyz: np.ndarray) -> list:
    # tolist() gives Python floats, which rclpy's float64 fields require (np.float32 is refused).
    return [msgs.Point(x=x, y=y, z=z) for x, y, z in np.asarray(xyz, np.float64).tolist()]


def _pose(msgs: SimpleNamespace, position: Sequence[float] = (0.0, 0.0, 0.0),
          quaternion_xyzw: Sequence[float] = (0.0, 0.0, 0.0, 1.0)) -> object:
    x, y, z = (float(v) for v in position)
    qx, qy, qz, qw = (float(v) for v in quaternion_xyzw)
    return msgs.Pose(position=msgs.Point(x=x, y=y, z=z), orientation=msgs.Quaternion(x=qx, y=qy, z=qz, w=qw))


def _color(msgs: SimpleNamespace, rgba: Sequence[float]) -> object:
    r, g, b, a = rgba
    return msgs.ColorRGBA(r=r, g=g, b=b, a=a)


def hand_landmarks(msgs: SimpleNamespace, hand: Hand) -> object:
    """One HandLandmarks message (field meanings in msg/HandLandmarks.msg)."""
    pose = _valid_pose(hand)
    return msgs.HandLandmarks(
        id=int(hand.id),
        handedness=hand.handedness,
        handedness_score=float(hand.handedness_score),
        presence=float(hand.presence),
        landmarks=_points(msgs, hand.landmarks),
        world_landmarks=_points(msgs, hand.world_landmarks),
        rect_center_x=float(hand.rect.center_x),
        rect_center_y=float(hand.rect.center_y),
        rect_width=float(hand.rect.width),
        rect_height=float(hand.rect.height),
        rect_rotation=float(hand.rect.rotation),
        gesture=hand.gesture or "",
        gesture_score=float(hand.gesture_score),
        pose=_pose(msgs, pose.position, pose.orientation_xyzw) if pose is not None else _pose(msgs),
        pose_valid=pose is not None,
        landmarks_camera=_points(msgs, pose.landmarks_camera if pose is not None else np.zeros((NUM_LANDMARKS, 3))),
        depth_source=hand.depth_source,
        depth_landmark_count=pose.depth_landmark_count if pose is not None else 0,
        finger_flexion=np.asarray(hand.finger_flexion, np.float32),  # rclpy's float32[] takes float32 arrays
    )


def hand_landmarks_array(msgs: SimpleNamespace, header: object, image_width: int, image_height: int,
                         hands: Sequence[Hand]) -> object:
    """The HandLandmarksArray of one image; ``header`` is the image's header (stamp and frame kept)."""
    return msgs.HandLandmarksArray(
        header=header,
        image_width=int(image_width),
        image_height=int(image_height),
        hands=[hand_landmarks(msgs, hand) for hand in hands],
    )


def hand_frame_id(tf_prefix: str, hand_id: int) -> str:
    """The TF frame of a tracked hand: ``<tf_prefix>hand_<id>``."""
    return f"{tf_prefix}hand_{int(hand_id)}"


def wrist_poses(hands: Sequence[Hand], mirrored: bool = False) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Per hand, its wrist frame's origin (3,) and orientation quaternion (x, y, z, w) in the camera frame,
    or None without a valid pose; ``mirrored`` is the tracker's (see hand_frame's module doc)."""
    poses = [_valid_pose(hand) for hand in hands]
    posed = [index for index, pose in enumerate(poses) if pose is not None]
    frames: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(hands)
    if posed:
        origins, rotations = wrist_frames(np.stack([poses[i].landmarks_camera for i in posed]),
                                          np.array([(hands[i].handedness == "right") != mirrored for i in posed]))
        for index, origin, rotation in zip(posed, origins, rotations):
            if np.isfinite(origin).all() and np.isfinite(rotation).all():
                frames[index] = (origin, rotation_to_quaternion(rotation))
    return frames


def hand_poses(msgs: SimpleNamespace, header: object, hands: Sequence[Hand], mirrored: bool = False,
               frames: list | None = None) -> object:
    """PoseArray of one image: each hand's wrist pose in the image's frame, in the order of ``hands`` (of
    HandLandmarksArray.hands). A hand without a valid pose gets an all-NaN pose, so that indices still
    match (HandLandmarks.pose_valid says which). ``frames``: ``wrist_poses(hands, mirrored)``, when the
    caller has them already."""
    nan_pose = ((np.nan,) * 3, (np.nan,) * 4)
    frames = wrist_poses(hands, mirrored) if frames is None else frames
    return msgs.PoseArray(header=header, poses=[_pose(msgs, *(frame or nan_pose)) for frame in frames])


def hand_transforms(msgs: SimpleNamespace, header: object, hands: Sequence[Hand], tf_prefix: str = "",
                    mirrored: bool = False, frames: list | None = None) -> object:
    """TFMessage of one image: for each hand with a valid pose, its wrist frame ``<tf_prefix>hand_<id>``
    as a child of the image's frame (``header.frame_id``), stamped with the image's stamp. ``frames`` as
    in ``hand_poses``."""
    transforms = []
    for hand, frame in zip(hands, wrist_poses(hands, mirrored) if frames is None else frames):
        if frame is None:
            continue  # tf2 refuses NaN transforms: a hand without a pose has no frame this time
        (x, y, z), (qx, qy, qz, qw) = (np.asarray(v, np.float64).tolist() for v in frame)
        transforms.append(msgs.TransformStamped(
            header=header, child_frame_id=hand_frame_id(tf_prefix, hand.id),
            transform=msgs.Transform(translation=msgs.Vector3(x=x, y=y, z=z),
                                     rotation=msgs.Quaternion(x=qx, y=qy, z=qz, w=qw))))
    return msgs.TFMessage(transforms=transforms)


def hand_markers(msgs: SimpleNamespace, header: object, hands: Sequence[Hand], camera: CameraIntrinsics,
                 assumed_depth: float) -> object:
    """MarkerArray for one image: DELETEALL (removes the previous image's hands), then for each hand
    landmark spheres (ns "landmarks"), bone lines (ns "bones") and a text label (ns "labels"), all with
    the hand's track id as marker id, in the image's frame."""
    Marker = msgs.Marker
    markers = [Marker(header=header, action=Marker.DELETEALL, pose=_pose(msgs))]
    connections = np.asarray(HAND_CONNECTIONS).reshape(-1)
    for hand in hands:
        xyz = landmarks_in_camera(hand, camera, assumed_depth)
        common = {"header": header, "id": int(hand.id), "action": Marker.ADD}
        hand_color = HANDEDNESS_COLORS.get(hand.handedness, UNKNOWN_HANDEDNESS_COLOR)
        markers.append(Marker(
            ns="landmarks", type=Marker.SPHERE_LIST, pose=_pose(msgs), points=_points(msgs, xyz),
            scale=msgs.Vector3(x=LANDMARK_DIAMETER, y=LANDMARK_DIAMETER, z=LANDMARK_DIAMETER),
            color=_color(msgs, hand_color), **common))
        markers.append(Marker(
            ns="bones", type=Marker.LINE_LIST, pose=_pose(msgs), points=_points(msgs, xyz[connections]),
            scale=msgs.Vector3(x=BONE_WIDTH, y=0.0, z=0.0), color=_color(msgs, BONE_COLOR), **common))
        top = xyz[np.argmin(xyz[:, 1])]  # y points down: the smallest y is the top of the hand
        label_position = (xyz[:, 0].mean(), top[1] - LABEL_CLEARANCE, top[2])
        markers.append(Marker(
            ns="labels", type=Marker.TEXT_VIEW_FACING, pose=_pose(msgs, label_position), text=hand_label(hand),
            scale=msgs.Vector3(x=0.0, y=0.0, z=LABEL_HEIGHT), color=_color(msgs, hand_color), **common))
    return msgs.MarkerArray(markers=markers)
