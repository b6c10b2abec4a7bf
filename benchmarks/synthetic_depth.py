"""A synthetic aligned depth image of hands with known 3D joints, as an RGB-D camera would see them.

For the depth-fusion tests (test/test_depth_fusion.py) and benchmarks/depth_accuracy.py: no real RGB-D
recording with ground truth exists in ../shared/data, so the depth image is rendered from the true joints.
The hand's skin is a capsule around each bone (radii of an adult hand, ``SKIN_RADII_M``, set here apart from
depth_fusion's own estimate of how deep the joints lie) and a slab over the palm; the camera sees the
nearest surface (a z-buffer), in front of a tilted background plane, with noise growing with the square of
the distance (as stereo and structured-light cameras) and holes (0 or NaN), as RealSense-style drivers
publish them.
"""

from __future__ import annotations

import cv2
import numpy as np

from hand_tracking_ros.pose import CameraIntrinsics
from hand_tracking_ros.types import HAND_CONNECTIONS

# Skin radius around each joint (wrist, thumb, then MCP, PIP, DIP, tip of each finger), metres.
SKIN_RADII_M = np.array([
    0.020,
    0.016, 0.011, 0.0095, 0.0085,
    0.012, 0.0095, 0.0085, 0.0075,
    0.012, 0.0095, 0.0085, 0.0075,
    0.0115, 0.009, 0.008, 0.007,
    0.011, 0.0085, 0.0075, 0.0065,
])
PALM_OUTLINE = (0, 1, 5, 9, 13, 17)
PALM_HALF_THICKNESS_M = 0.013
# Depth noise sigma = a + b z^2 (metres): about 1.7 mm at 0.6 m, 3.5 mm at 1.1 m.
NOISE_CONSTANT_M = 0.001
NOISE_QUADRATIC_PER_M = 0.002


def pixel_rays(camera: CameraIntrinsics, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalized image coordinates (x/z, y/z) of every pixel centre, each (height, width)."""
    columns, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    return (columns - camera.cx) / camera.fx, (rows - camera.cy) / camera.fy


def project(points: np.ndarray, camera: CameraIntrinsics) -> np.ndarray:
    """Pixels (N, 2) of camera-frame points (N, 3), pinhole."""
    return np.column_stack([camera.fx * points[:, 0] / points[:, 2] + camera.cx,
                            camera.fy * points[:, 1] / points[:, 2] + camera.cy])


def render_hand_surface(joints: np.ndarray, camera: CameraIntrinsics, width: int, height: int) -> np.ndarray:
    """Depth (height, width) metres of the skin of a hand with these joints (21, 3), inf where no hand."""
    depth = np.full((height, width), np.inf)
    pixels = project(joints, camera)
    # Capsules: for each pixel near a bone, the nearest point of its projection, and there the sphere
    # of the interpolated radius around the interpolated centre.
    for start, end in HAND_CONNECTIONS:
        a, b = pixels[start], pixels[end]
        reach = camera.fx * max(SKIN_RADII_M[start], SKIN_RADII_M[end]) / min(joints[start, 2], joints[end, 2])
        low = np.floor(np.minimum(a, b) - reach).astype(int).clip(0, [width, height])
        high = np.ceil(np.maximum(a, b) + reach).astype(int).clip(0, [width, height])
        columns, rows = np.meshgrid(np.arange(low[0], high[0]) + 0.5, np.arange(low[1], high[1]) + 0.5)
        along = b - a
        t = np.clip(((columns - a[0]) * along[0] + (rows - a[1]) * along[1]) / max(along @ along, 1e-9), 0, 1)
        distance_px = np.hypot(columns - (a[0] + t * along[0]), rows - (a[1] + t * along[1]))
        centre_z = joints[start, 2] + t * (joints[end, 2] - joints[start, 2])
        radius = SKIN_RADII_M[start] + t * (SKIN_RADII_M[end] - SKIN_RADII_M[start])
        ratio = distance_px / (camera.fx * radius / centre_z)
        surface = np.where(ratio < 1, centre_z - radius * np.sqrt(np.clip(1 - ratio ** 2, 0, 1)), np.inf)
        window = depth[low[1]:high[1], low[0]:high[0]]
        np.minimum(window, surface, out=window)
    # The palm: the plane through its outline's joints, moved towards the camera by half its thickness.
    outline = joints[list(PALM_OUTLINE)]
    centre = outline.mean(axis=0)
    normal = np.linalg.svd(outline - centre)[2][2]
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.round(pixels[list(PALM_OUTLINE)]).astype(np.int32)], 1)
    x, y = pixel_rays(camera, width, height)
    with np.errstate(divide="ignore"):
        plane_z = (normal @ centre) / (normal[0] * x + normal[1] * y + normal[2])
    palm = np.where(mask > 0, plane_z - PALM_HALF_THICKNESS_M, np.inf)
    return np.minimum(depth, palm)


def synthetic_depth_image(hands_joints, camera: CameraIntrinsics, width: int, height: int, rng: np.random.Generator,
                          background_m: float = 1.0, hole_fraction: float = 0.1,
                          holes_at: tuple[tuple[float, float, float], ...] = (),
                          dtype=np.uint16) -> np.ndarray:
    """An aligned depth image of the hands (each joints (21, 3) in the camera frame) in front of a background
    plane ``background_m`` away (tilted: nearer at the top), with noise and ``hole_fraction`` of the pixels
    missing, and no depth in the discs ``holes_at`` (x px, y px, radius px). uint16 millimetres with 0 for
    holes, or float32 metres with 0 for half the holes and NaN for the other half."""
    x, y = pixel_rays(camera, width, height)
    depth = background_m / (1 + 0.3 * y)
    for joints in hands_joints:
        depth = np.minimum(depth, render_hand_surface(np.asarray(joints, np.float64), camera, width, height))
    depth = depth + rng.normal(size=depth.shape) * (NOISE_CONSTANT_M + NOISE_QUADRATIC_PER_M * depth ** 2)
    holes = rng.random(depth.shape) < hole_fraction
    columns, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    for hole_x, hole_y, radius in holes_at:
        holes |= np.hypot(columns - hole_x, rows - hole_y) < radius
    if np.dtype(dtype) == np.uint16:
        return np.where(holes, 0, np.round(depth * 1000)).astype(np.uint16)
    missing = np.where(rng.random(depth.shape) < 0.5, 0.0, np.nan)
    return np.where(holes, missing, depth).astype(dtype)
