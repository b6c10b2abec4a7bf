"""Metric hand landmarks from an aligned depth image (RGB-D cameras), robust to holes and occlusions.

Without depth, a hand's distance comes from the model's average hand size (``pose.estimate_hand_pose``),
right to centimetres or decimetres. An RGB-D camera measures it: RealSense, OAK-D and ZED drivers publish
a depth image registered to the colour image (``aligned_depth_to_color``), ``uint16`` millimetres
(``16UC1``) or ``float32`` metres (``32FC1``), 0 or NaN where nothing was measured.

``fuse_depth`` (vectorised over the 21 landmarks):

1. Sampling. Around each landmark's pixel, a square window whose side scales with the hand's size in the
   image (``WINDOW_FRACTION``). Zeros, NaN and infinities are holes. Samples farther in depth from the
   hand's median than the hand itself can reach (``HAND_DEPTH_REACH`` times its 3D size: background,
   objects in front) are dropped, then those farther than ``SURFACE_TOLERANCE_M`` from the window's own
   median (the background beside a fingertip). A landmark has depth when enough of its window is left
   (``MIN_WINDOW_FRACTION``); it is the median of what is left.
2. Surface to joint. A depth camera sees the skin; the landmarks are joints inside the hand, about half
   the hand's thickness deeper (``JOINT_BELOW_SURFACE_M``). Each depth-backed landmark is its pixel's ray
   at that depth.
3. Fit. The model's hand shape (the world landmarks) is fitted to the depth-backed points by a similarity
   (scale, rotation, translation; Umeyama's closed form), starting from the world landmarks' own relative
   depths, then refitted ``REWEIGHTING_PASSES`` times on the inliers of the previous fit. A landmark drops
   out when its depth is grossly off the fitted hand (``FIT_TOLERANCE_M``: another object) or when the hand
   hides it from the camera (``_occluder_depths``: a curled finger in front of its knuckle, a fist in front
   of its wrist, a thumb behind the index finger) and its measurement is the occluder's: near it
   (``OCCLUDER_AGREEMENT_M``) and nearer it than the landmark. The tolerance
   is loose on purpose: the model's hand shape is often several centimetres off in depth (up to 6 cm at the
   wrist on InterHand2.6M's real hands, benchmarks/depth_accuracy.py), so a measured depth beats it
   wherever nothing hides the landmark.
4. Output. Kept landmarks take their measured depth. The others (holes, hidden, rejected) take the fitted
   hand's depth, moved by the offset between measurement and fit of their nearest kept ancestor towards
   the wrist, so a hidden fingertip follows its visible finger. Every landmark stays on its pixel's ray:
   the image landmarks are more precise sideways than the model's 3D shape.

No or too few depth-backed landmarks (``MIN_DEPTH_LANDMARKS``), a degenerate set (all on one finger), or a
fitted scale no real hand has (``SCALE_RANGE``: a depth image in the wrong unit, or not registered to the
colour image) give None: the caller keeps the hand-model pose (HandLandmarks.DEPTH_HAND_MODEL).
"""

from __future__ import annotations

import numpy as np

from .pose import CameraIntrinsics, HandPose, _normalized_points, _project, rotation_to_quaternion
from .types import HAND_CONNECTIONS, NUM_LANDMARKS

# Sampling window: half its side is this fraction of the hand's size in pixels (the larger side of the
# box around its landmarks), so it stays inside a finger (about a tenth of the hand's length wide).
WINDOW_FRACTION = 0.02
MAX_WINDOW_HALF_SIDE_PX = 15
# A landmark's depth needs this fraction of its window on the hand (a fingertip's window is half beyond it).
MIN_WINDOW_FRACTION = 0.15
# Samples farther from the hand's median depth than this many times the hand's 3D size (the largest side of
# the world landmarks' box) are not the hand: no part of a hand is farther from its median than that.
HAND_DEPTH_REACH = 0.75
# Samples farther than this from their window's median are another surface (the background beside a finger).
SURFACE_TOLERANCE_M = 0.02
# Depth of each joint below the skin a camera sees: about half the thickness of an adult hand there
# (wrist, thumb, then MCP, PIP, DIP, tip of each finger).
JOINT_BELOW_SURFACE_M = np.array([
    0.018,
    0.015, 0.010, 0.009, 0.008,
    0.012, 0.009, 0.008, 0.007,
    0.012, 0.009, 0.008, 0.007,
    0.012, 0.009, 0.008, 0.007,
    0.011, 0.008, 0.007, 0.006,
])
MIN_DEPTH_LANDMARKS = 6
# Self-occlusion (a curled finger in front of its knuckle, a fist in front of its wrist, fingertips behind
# the palm): the fitted hand's bones as capsules, and the palm as triangles, hide a landmark when they cover
# its pixel and lie this much nearer; the camera then measures the occluder, not the landmark. Another bone
# is as thick as its finger (JOINT_BELOW_SURFACE_M at each end): a thinner one misses the edge of a finger
# in front. The landmark's own bones always cover its pixel, so only their axis counts (this radius): the
# fitted shape's depth slope at a joint is often centimetres off (the wrist most), and a full thickness
# there would hide joints the camera sees.
BONE_RADIUS_M = 0.008
OCCLUSION_MARGIN_M = 0.01
# A hidden landmark's measurement is the occluder's skin: within this of the occluder's fitted depth (which
# is itself a few centimetres off, as the fit is). Farther in front of it, the reading is not explained by
# the hand hiding the landmark.
OCCLUDER_AGREEMENT_M = 0.03
_BONES = np.array(HAND_CONNECTIONS)
_PALM_TRIANGLES = np.array([(0, 5, 9), (0, 9, 13), (0, 13, 17)])
# Each landmark's neighbour towards the wrist: a landmark without a measured depth keeps its nearest
# measured ancestor's offset from the fitted shape (the model's local shape is better than its global one).
_PARENTS = np.array([-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19])
# Inliers of the fit, by depth along the ray (sideways the image landmarks rule): a measurement farther
# than this from the fitted hand's depth (metres) is another object; looser before the first fit (no
# scale or rotation yet). Both widen to this many robust standard deviations (1.4826 x the median absolute
# deviation) of the residuals when the model's hand shape fits this hand more loosely.
START_TOLERANCE_M = 0.08
FIT_TOLERANCE_M = 0.06
INLIER_MADS = 3.0
REWEIGHTING_PASSES = 2
# A real hand's size over the model's average hand: children to large adults, with margin.
SCALE_RANGE = (0.6, 1.6)
# The depth-backed landmarks must span a plane: their second principal extent (standard deviation, metres).
MIN_SPREAD_M = 0.005
MILLIMETRE = 1e-3


def depth_in_metres(depth_image: np.ndarray) -> np.ndarray:
    """A depth image as float64 metres with NaN for holes: uint16 is millimetres (16UC1), floats metres."""
    depth = np.asarray(depth_image)
    if depth.dtype == np.uint16:
        metres = depth * MILLIMETRE
    elif np.issubdtype(depth.dtype, np.floating):
        metres = depth.astype(np.float64)
    else:
        raise ValueError(f"depth image must be uint16 millimetres (16UC1) or float metres (32FC1), got {depth.dtype}")
    return np.where(np.isfinite(metres) & (metres > 0), metres, np.nan)


def _row_medians(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median of each row ignoring NaN (NaN for a row of NaN), and the count of non-NaN values."""
    ordered = np.sort(values, axis=1)  # NaN last
    count = np.sum(~np.isnan(values), axis=1)
    rows = np.arange(len(values))
    low, high = np.maximum(count - 1, 0) // 2, count // 2
    medians = (ordered[rows, low] + ordered[rows, high]) / 2
    return np.where(count > 0, medians, np.nan), count


def sample_landmark_depths(depth_image: np.ndarray, pixels: np.ndarray, hand_size_m: float) -> np.ndarray:
    """Each landmark's skin depth in metres (step 1 of the module doc), NaN where the image has none.

    ``pixels`` (21, 2) are in the depth image's pixels (registered: the colour image's); ``hand_size_m``
    is the hand's 3D size, which bounds how far from its median depth a sample can be."""
    depth = np.asarray(depth_image)
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise ValueError(f"depth image must be (H, W) or (H, W, 1), got shape {depth.shape}")
    height, width = depth.shape
    hand_size_px = float(np.ptp(pixels, axis=0).max())
    half = int(np.clip(round(WINDOW_FRACTION * hand_size_px), 1, MAX_WINDOW_HALF_SIDE_PX))
    offsets = np.arange(-half, half + 1)
    # Pixel (row i, column j) covers [j, j + 1) x [i, i + 1) (origin at the top-left pixel's corner).
    columns = (np.floor(pixels[:, 0]).astype(np.int64)[:, None, None] + offsets[None, None, :])
    rows = (np.floor(pixels[:, 1]).astype(np.int64)[:, None, None] + offsets[None, :, None])
    columns, rows = np.broadcast_arrays(columns, rows)
    inside = (columns >= 0) & (columns < width) & (rows >= 0) & (rows < height)
    raw = depth[np.clip(rows, 0, height - 1), np.clip(columns, 0, width - 1)]  # only the windows convert
    samples = np.where(inside, depth_in_metres(raw), np.nan).reshape(len(pixels), -1)
    window_medians, _ = _row_medians(samples)
    if not np.isfinite(window_medians).any():
        return window_medians
    hand_depth = np.nanmedian(window_medians)
    samples[np.abs(samples - hand_depth) > HAND_DEPTH_REACH * hand_size_m] = np.nan
    for _ in range(2):  # the window's own surface: the median moves once the background is gone
        window_medians, _ = _row_medians(samples)
        with np.errstate(invalid="ignore"):  # NaN rows stay NaN
            samples[np.abs(samples - window_medians[:, None]) > SURFACE_TOLERANCE_M] = np.nan
    medians, count = _row_medians(samples)
    return np.where(count >= MIN_WINDOW_FRACTION * samples.shape[1], medians, np.nan)


def fit_similarity(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale s, rotation R and translation t minimising sum |s R source_i + t - target_i|^2 (Umeyama 1991)."""
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    centred_source, centred_target = source - source_mean, target - target_mean
    u, singular, vt = np.linalg.svd(centred_target.T @ centred_source / len(source))
    reflection = np.diag([1.0, 1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ reflection @ vt
    scale = float(np.trace(np.diag(singular) @ reflection) / np.mean(np.sum(centred_source ** 2, axis=1)))
    return scale, rotation, target_mean - scale * rotation @ source_mean


def _depth_inliers(residuals: np.ndarray, candidates: np.ndarray, tolerance: float) -> np.ndarray:
    """Landmarks whose residual (measured minus fitted depth) is within ``tolerance``, widened to
    ``INLIER_MADS`` robust standard deviations of the candidates' residuals; NaN (no depth) never is."""
    candidate_residuals = residuals[candidates]
    sigma = 1.4826 * float(np.median(np.abs(candidate_residuals - np.median(candidate_residuals))))
    with np.errstate(invalid="ignore"):
        return np.abs(residuals) < max(tolerance, INLIER_MADS * sigma)


def _occluder_depths(pixels: np.ndarray, depths: np.ndarray, focal_px: float) -> np.ndarray:
    """Per landmark (21,), the depth of the nearest part of the hand covering its pixel, from the hand's
    shape at ``depths`` (metres): its bones as capsules as thick as its fingers (the landmark's own bones
    too, as thin as ``BONE_RADIUS_M``: a finger pointing at the camera hides its knuckle) and its palm
    triangles. The landmark itself and its own bones' ends at it are at its own depth; inf where nothing
    covers it."""
    starts, ends = _BONES[:, 0], _BONES[:, 1]
    along = pixels[ends] - pixels[starts]                                    # (B, 2)
    length_squared = np.maximum(np.sum(along * along, -1), 1e-9)
    offset = pixels[:, None, :] - pixels[starts][None]                       # (21, B, 2)
    t = np.sum(offset * along, -1) / length_squared                          # the nearest point on the line
    gap_squared = np.sum((offset - t[..., None] * along) ** 2, -1)
    rise = depths[ends] - depths[starts]                                     # (B,) depth along the bone
    finger_radius = JOINT_BELOW_SURFACE_M[starts] + np.clip(t, 0, 1) * (JOINT_BELOW_SURFACE_M[ends]
                                                                        - JOINT_BELOW_SURFACE_M[starts])
    landmarks = np.arange(len(pixels))[:, None]
    own_bone = (starts == landmarks) | (ends == landmarks)                    # (21, B)
    radius_px = (focal_px * np.where(own_bone, BONE_RADIUS_M, finger_radius)
                 / np.minimum(depths[starts], depths[ends]))
    # The part of the bone whose capsule covers the pixel: an interval of t; its depth is nearest at an end.
    half_width = np.sqrt(np.maximum(radius_px ** 2 - gap_squared, 0.0) / length_squared)
    low, high = np.clip(t - half_width, 0, 1), np.clip(t + half_width, 0, 1)
    covered = (gap_squared < radius_px ** 2) & (low < high)
    nearest = depths[starts] + np.minimum(low * rise, high * rise)
    by_bone = np.min(np.where(covered, nearest, np.inf), axis=1)
    # Palm triangles: barycentric coordinates of each landmark's pixel.
    a, b, c = (pixels[_PALM_TRIANGLES[:, k]] for k in range(3))                # (T, 2) each
    edge_ab, edge_ac, to_point = b - a, c - a, pixels[:, None, :] - a[None]   # to_point (21, T, 2)
    determinant = edge_ab[:, 0] * edge_ac[:, 1] - edge_ab[:, 1] * edge_ac[:, 0]
    safe = np.where(np.abs(determinant) > 1e-9, determinant, np.inf)
    u = (to_point[..., 0] * edge_ac[:, 1] - to_point[..., 1] * edge_ac[:, 0]) / safe
    v = (edge_ab[:, 0] * to_point[..., 1] - edge_ab[:, 1] * to_point[..., 0]) / safe
    inside = (u >= 0) & (v >= 0) & (u + v <= 1)
    palm_depth = ((1 - u - v) * depths[_PALM_TRIANGLES[:, 0]] + u * depths[_PALM_TRIANGLES[:, 1]]
                  + v * depths[_PALM_TRIANGLES[:, 2]])
    by_palm = np.min(np.where(inside, palm_depth, np.inf), axis=1)
    return np.minimum(by_bone, by_palm)


def _spread(points: np.ndarray) -> float:
    """Second principal standard deviation: near 0 when the points lie on a line."""
    return float(np.linalg.svd(points - points.mean(axis=0), compute_uv=False)[1] / np.sqrt(len(points)))


def fuse_depth(world_landmarks: np.ndarray, image_landmarks: np.ndarray, camera: CameraIntrinsics,
               depth_image: np.ndarray) -> HandPose | None:
    """The hand's pose and metric landmarks from an aligned depth image (module doc), or None without
    enough depth. ``world_landmarks`` (21, 3) metres; ``image_landmarks`` (21, 2|3) pixels of the colour
    image (z ignored); ``camera`` the colour camera's intrinsics at the image's size; ``depth_image``
    registered to the colour image, uint16 millimetres or float metres."""
    world = np.asarray(world_landmarks, np.float64)
    pixels = np.asarray(image_landmarks, np.float64)
    if world.shape != (21, 3) or pixels.ndim != 2 or pixels.shape[0] != 21 or pixels.shape[1] < 2:
        raise ValueError(f"expected world landmarks (21, 3) and image landmarks (21, 2|3), got {world.shape} "
                         f"and {pixels.shape}")
    pixels = np.ascontiguousarray(pixels[:, :2])
    depth_size = np.shape(depth_image)[1::-1]
    if camera.width and camera.height and tuple(depth_size) != (camera.width, camera.height):
        raise ValueError(f"depth image is {depth_size[0]}x{depth_size[1]} but the colour image is "
                         f"{camera.width}x{camera.height}: it must be registered to the colour camera "
                         "(for example RealSense's aligned_depth_to_color)")
    if not (np.isfinite(world).all() and np.isfinite(pixels).all()):
        return None
    hand_size_m = float(np.ptp(world, axis=0).max())
    surface = sample_landmark_depths(depth_image, pixels, hand_size_m)
    has_depth = np.isfinite(surface)
    if has_depth.sum() < MIN_DEPTH_LANDMARKS:
        return None
    rays = np.column_stack([_normalized_points(pixels, camera), np.ones(NUM_LANDMARKS)])  # points at depth 1
    if not np.isfinite(rays).all():  # a lens distortion that cannot be undone at these pixels
        return None
    measured = rays * (surface + JOINT_BELOW_SURFACE_M)[:, None]
    # Start from the world landmarks' own relative depths (their axes are nearly the camera's), shifted by
    # the median difference: robust to up to half the landmarks being occluded or wrong.
    start = world[:, 2] + np.median(measured[has_depth, 2] - world[has_depth, 2])
    inliers = _depth_inliers(measured[:, 2] - start, has_depth, START_TOLERANCE_M)
    for _ in range(1 + REWEIGHTING_PASSES):
        if inliers.sum() < MIN_DEPTH_LANDMARKS or _spread(world[inliers]) < MIN_SPREAD_M:
            return None
        scale, rotation, translation = fit_similarity(world[inliers], measured[inliers])
        fitted = scale * world @ rotation.T + translation
        residuals = measured[:, 2] - fitted[:, 2]
        occluder = _occluder_depths(pixels, fitted[:, 2], 0.5 * (camera.fx + camera.fy))
        with np.errstate(invalid="ignore"):
            agreement = np.minimum(np.abs(residuals), OCCLUDER_AGREEMENT_M)
            occluded = ((occluder < fitted[:, 2] - OCCLUSION_MARGIN_M)
                        & (np.abs(measured[:, 2] - occluder) < agreement))
        inliers = _depth_inliers(residuals, inliers, FIT_TOLERANCE_M) & ~occluded
    if inliers.sum() < MIN_DEPTH_LANDMARKS or not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1]:
        return None
    corrections = np.where(inliers, residuals, np.nan)
    for landmark, parent in enumerate(_PARENTS):  # parents come first
        if not inliers[landmark]:
            corrections[landmark] = corrections[parent] if parent >= 0 else np.median(residuals[inliers])
    depths = fitted[:, 2] + corrections
    if not (depths > 0).all():
        return None
    error = _project(fitted, np.zeros(3), np.zeros(3), camera) - pixels
    return HandPose(position=translation, orientation_xyzw=rotation_to_quaternion(rotation), rotation=rotation,
                    landmarks_camera=rays * depths[:, None],
                    reprojection_error_px=float(np.sqrt(np.mean(np.sum(error ** 2, axis=1)))), valid=True,
                    scale=scale, depth_landmark_count=int(inliers.sum()))
