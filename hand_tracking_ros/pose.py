"""3D hand pose in the camera's optical frame from the camera intrinsics.

The landmark model gives two views of the same hand: ``world_landmarks``, metric (metres) but centred on
the hand, and image ``landmarks``, in pixels. Fitting the first to the second with a perspective camera
(``cv2.solvePnP``) gives the rigid transform from the hand frame to the camera frame, so that a world
landmark ``p`` is at ``position + rotation @ p`` in the camera frame (x right, y down, z forward, metres);
``HandPose.landmarks_camera`` holds all 21 of them. The hand's distance comes from its metric size, so its
accuracy is that of the model's world landmarks (they assume an average adult hand).

Because the world landmarks' axes are already parallel to the camera's, the rotation is close to the
identity (at most about 30 degrees on the test photos: it absorbs the model's errors and the perspective of
off-centre hands); the hand's own orientation is in the shape of ``landmarks_camera``. The fit starts from
that identity, with the translation that best explains the image under it (linear least squares), and
refines with Levenberg-Marquardt (``SOLVEPNP_ITERATIVE``); starting there avoids the mirrored solutions a
planar-ish, small object otherwise allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

# CameraInfo distortion models that OpenCV's pinhole functions take directly (k1, k2, p1, p2, k3[, k4-k6]).
PINHOLE_DISTORTION_MODELS = ("plumb_bob", "rational_polynomial")
FISHEYE_DISTORTION_MODEL = "equidistant"
# Coefficient counts OpenCV's functions take (k1 k2 p1 p2 [k3 [k4 k5 k6 [s1-s4 [tx ty]]]]; fisheye k1-k4);
# any other count makes every one of its calls fail, so it is refused when the intrinsics are made.
DISTORTION_LENGTHS = {**dict.fromkeys(PINHOLE_DISTORTION_MODELS, (0, 4, 5, 8, 12, 14)),
                      FISHEYE_DISTORTION_MODEL: (0, 4)}
# Calibrations smaller than this a side are placeholders (a 1x1 camera_info), not a camera's resolution, and
# images whose aspect ratio differs from the calibration's by more than this are another camera or a crop.
MIN_CALIBRATED_SIDE = 16
ASPECT_RATIO_TOLERANCE = 0.01


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics in pixels, with optional lens distortion as in sensor_msgs/CameraInfo.

    For images that are already rectified (an ``image_rect`` topic) use the projection matrix P's
    fx, fy, cx, cy and no distortion."""

    fx: float
    fy: float
    cx: float
    cy: float
    distortion: tuple[float, ...] = ()
    distortion_model: str = "plumb_bob"
    width: int = 0   # image size the intrinsics belong to; 0 when unknown
    height: int = 0

    def __post_init__(self):
        values = (self.fx, self.fy, self.cx, self.cy, *self.distortion)
        if not all(np.isfinite(values)):
            raise ValueError(f"camera intrinsics must be finite numbers: {self}")
        if not (self.fx > 0 and self.fy > 0):
            raise ValueError(f"focal lengths must be positive (an all-zero K means an uncalibrated camera): "
                             f"fx={self.fx}, fy={self.fy}")
        if any(self.distortion) and self.distortion_model not in (*PINHOLE_DISTORTION_MODELS,
                                                                 FISHEYE_DISTORTION_MODEL):
            raise ValueError(f"unsupported distortion model {self.distortion_model!r}; supported: "
                             f"{', '.join((*PINHOLE_DISTORTION_MODELS, FISHEYE_DISTORTION_MODEL))}")
        lengths = DISTORTION_LENGTHS.get(self.distortion_model)
        if lengths is not None and len(self.distortion) not in lengths:
            raise ValueError(f"{self.distortion_model} distortion with {len(self.distortion)} coefficients; OpenCV "
                             f"takes {', '.join(map(str, lengths[1:]))} (or none)")

    @classmethod
    def from_camera_info(cls, k: Sequence[float], d: Sequence[float] = (), width: int = 0, height: int = 0,
                         distortion_model: str = "plumb_bob") -> CameraIntrinsics:
        """From the fields of a sensor_msgs/CameraInfo: K (row-major 3x3), D, width, height, distortion_model."""
        k = np.asarray(k, np.float64).ravel()
        if k.size != 9:
            raise ValueError(f"K must have 9 elements (row-major 3x3), got {k.size}")
        return cls(fx=float(k[0]), fy=float(k[4]), cx=float(k[2]), cy=float(k[5]),
                   distortion=tuple(float(v) for v in d), distortion_model=distortion_model or "plumb_bob",
                   width=int(width), height=int(height))

    def for_image_size(self, width: int, height: int) -> CameraIntrinsics | None:
        """These intrinsics for images of ``width`` x ``height``: a camera driver or image_proc may publish
        images resized (or binned) from the calibrated size, which scales the focal lengths and the principal
        point. None when the image cannot be this calibration resized: a calibration under
        ``MIN_CALIBRATED_SIDE`` pixels a side, or another aspect ratio (another camera, a crop)."""
        if not self.width or not self.height or (self.width, self.height) == (width, height):
            return self
        if min(self.width, self.height) < MIN_CALIBRATED_SIDE or not width or not height or abs(
                (width / height) / (self.width / self.height) - 1) > ASPECT_RATIO_TOLERANCE:
            return None
        scale_x, scale_y = width / self.width, height / self.height
        return replace(self, fx=self.fx * scale_x, fy=self.fy * scale_y, cx=self.cx * scale_x,
                       cy=self.cy * scale_y, width=int(width), height=int(height))

    @property
    def camera_matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


def _nan(shape) -> np.ndarray:
    return np.full(shape, np.nan)


@dataclass
class HandPose:
    """Pose of the hand frame (that of the world landmarks) in the camera's optical frame.

    A world landmark ``p`` is at ``position + scale * rotation @ p`` in the camera frame; ``orientation_xyzw``
    is ``rotation`` as a unit quaternion. The hand-model pose (``estimate_hand_pose``) has scale 1 and
    ``landmarks_camera`` exactly there. A depth image also measures the real hand's size, and
    ``depth_fusion.fuse_depth`` puts each of ``landmarks_camera`` on its pixel's ray at its measured (or,
    hidden, its fitted) depth, counting the measured ones in ``depth_landmark_count``. When ``valid`` is
    false (no solution, hand behind the camera, NaN input) the arrays are NaN and ``reprojection_error_px``
    is inf."""

    position: np.ndarray = field(default_factory=lambda: _nan(3))           # (3,) metres
    orientation_xyzw: np.ndarray = field(default_factory=lambda: _nan(4))   # (4,)
    rotation: np.ndarray = field(default_factory=lambda: _nan((3, 3)))      # (3, 3)
    landmarks_camera: np.ndarray = field(default_factory=lambda: _nan((21, 3)))  # metres, camera frame
    reprojection_error_px: float = float("inf")  # RMS over the 21 landmarks
    valid: bool = False
    scale: float = 1.0  # the real hand's size over the model's
    depth_landmark_count: int = 0  # landmarks whose depth came from a depth image; 0: the hand-model pose


def rotation_to_quaternion(rotation: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w), w >= 0, of a 3x3 rotation matrix."""
    r = np.asarray(rotation, np.float64)
    # Shepperd's method: take the largest of 4w^2, 4x^2, 4y^2, 4z^2 to divide by, for precision.
    trace = np.trace(r)
    squares = np.array([1 + 2 * r[0, 0] - trace, 1 + 2 * r[1, 1] - trace, 1 + 2 * r[2, 2] - trace, 1 + trace])
    i = int(np.argmax(squares))
    q = np.empty(4)
    q[i] = np.sqrt(squares[i]) / 2
    if i == 3:
        q[0:3] = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]]) / (4 * q[3])
    else:
        j, k = (i + 1) % 3, (i + 2) % 3
        q[3] = (r[k, j] - r[j, k]) / (4 * q[i])
        q[j] = (r[j, i] + r[i, j]) / (4 * q[i])
        q[k] = (r[k, i] + r[i, k]) / (4 * q[i])
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


def _translation_without_rotation(world: np.ndarray, normalized: np.ndarray) -> np.ndarray:
    """Translation t that best maps ``world`` points to normalized image points with no rotation.

    x_n = (X + tx) / (Z + tz) is linear in t: tx - x_n tz = x_n Z - X (same for y)."""
    count = len(world)
    a = np.zeros((2 * count, 3))
    a[:count, 0] = 1.0
    a[count:, 1] = 1.0
    a[:, 2] = -normalized.T.ravel()
    b = np.concatenate([normalized[:, 0] * world[:, 2] - world[:, 0], normalized[:, 1] * world[:, 2] - world[:, 1]])
    return np.linalg.lstsq(a, b, rcond=None)[0]


def _is_fisheye(camera: CameraIntrinsics) -> bool:
    return camera.distortion_model == FISHEYE_DISTORTION_MODEL and any(camera.distortion)


def _distortion(camera: CameraIntrinsics) -> np.ndarray | None:
    return np.asarray(camera.distortion, np.float64) if any(camera.distortion) else None


def _normalized_points(pixels: np.ndarray, camera: CameraIntrinsics) -> np.ndarray:
    """Undistorted image points on the z = 1 plane."""
    points = pixels.reshape(-1, 1, 2)
    undistort = cv2.fisheye.undistortPoints if _is_fisheye(camera) else cv2.undistortPoints
    return undistort(points, camera.camera_matrix, _distortion(camera)).reshape(-1, 2)


def _project(world: np.ndarray, rvec: np.ndarray, tvec: np.ndarray, camera: CameraIntrinsics) -> np.ndarray:
    """Pixels of camera-frame points, lens distortion included."""
    if _is_fisheye(camera):
        projected = cv2.fisheye.projectPoints(world.reshape(-1, 1, 3), rvec, tvec, camera.camera_matrix,
                                              _distortion(camera))[0]
    else:
        projected = cv2.projectPoints(world, rvec, tvec, camera.camera_matrix, _distortion(camera))[0]
    return projected.reshape(-1, 2)


def estimate_hand_pose(world_landmarks: np.ndarray, image_landmarks: np.ndarray,
                       camera: CameraIntrinsics) -> HandPose:
    """Fit the hand's metric world landmarks (21, 3) to its image landmarks (21, 2|3, pixels; z ignored)."""
    world = np.asarray(world_landmarks, np.float64)
    pixels = np.asarray(image_landmarks, np.float64)
    if world.shape != (21, 3) or pixels.ndim != 2 or pixels.shape[0] != 21 or pixels.shape[1] < 2:
        raise ValueError(f"expected world landmarks (21, 3) and image landmarks (21, 2|3), got {world.shape} "
                         f"and {pixels.shape}")
    pixels = pixels[:, :2]
    if not (np.isfinite(world).all() and np.isfinite(pixels).all()) or np.ptp(world, axis=0).max() <= 0:
        return HandPose()
    # Fit in normalized (undistorted) coordinates, so every distortion model goes through the same solver.
    normalized = _normalized_points(np.ascontiguousarray(pixels), camera)
    if not np.isfinite(normalized).all():  # a distortion model that cannot be inverted at these pixels
        return HandPose()
    translation = _translation_without_rotation(world, normalized)
    if not (np.isfinite(translation).all() and translation[2] > 0):
        return HandPose()
    ok, rvec, tvec = cv2.solvePnP(world, normalized, np.eye(3), None, np.zeros(3), translation.copy(),
                                  useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok or not (np.isfinite(rvec).all() and np.isfinite(tvec).all()):
        return HandPose()
    rotation = cv2.Rodrigues(rvec)[0]
    position = tvec.ravel()
    landmarks_camera = world @ rotation.T + position
    if not (landmarks_camera[:, 2] > 0).all():  # a solution behind the camera is no solution
        return HandPose()
    error = float(np.sqrt(np.mean(np.sum((_project(world, rvec, tvec, camera) - pixels) ** 2, axis=1))))
    return HandPose(position=position, orientation_xyzw=rotation_to_quaternion(rotation), rotation=rotation,
                    landmarks_camera=landmarks_camera, reprojection_error_px=error, valid=True)
