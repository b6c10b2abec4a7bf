"""3D hand pose in the camera frame, on real photos with a plausible pinhole camera."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import load_rgb, read_video

from hand_tracking_ros import HandTracker
from hand_tracking_ros.pose import CameraIntrinsics, HandPose, estimate_hand_pose, rotation_to_quaternion

PHOTOS = ("hands/thumb_up_2.jpg", "hands/hand_left.jpg", "hands/assorted/0.jpg", "hands/assorted/4.jpg",
          "hands/assorted/3.jpg")


def webcam(image: np.ndarray, focal_scale: float = 1.0) -> CameraIntrinsics:
    """A typical webcam: focal length = image width (about 53 degrees of horizontal view), centred."""
    height, width = image.shape[:2]
    return CameraIntrinsics(fx=focal_scale * width, fy=focal_scale * width, cx=width / 2, cy=height / 2,
                            width=width, height=height)


@pytest.fixture(scope="module")
def photo_hands():
    tracker = HandTracker(static_image_mode=True, max_num_hands=2)
    return [(name, image, hand) for name in PHOTOS for image in [load_rgb(name)] for hand in tracker.process(image)]


def test_real_hands_are_in_front_with_small_reprojection_error(photo_hands):
    assert len(photo_hands) >= 7
    for name, image, hand in photo_hands:
        pose = estimate_hand_pose(hand.world_landmarks, hand.landmarks, webcam(image))
        assert pose.valid, name
        assert (pose.landmarks_camera[:, 2] > 0.05).all() and pose.position[2] < 3.0, name
        size = np.ptp(hand.landmarks[:, :2], axis=0).mean()
        # Measured 2.5-12.5 px RMS, 2-5% of the hand's size (the world landmarks are a model's guess of an
        # average hand's shape, so they never fit exactly).
        assert pose.reprojection_error_px < 0.06 * size, (name, pose.reprojection_error_px, size)
        # A rigid transform: the wrist to middle-knuckle distance keeps the world landmarks' metric scale.
        assert np.linalg.norm(pose.landmarks_camera[9] - pose.landmarks_camera[0]) == pytest.approx(
            np.linalg.norm(hand.world_landmarks[9] - hand.world_landmarks[0]), rel=1e-5)
        # The hand's centre projects inside the hand in the image.
        u, v = pose.position[:2] / pose.position[2] * image.shape[1] + [image.shape[1] / 2, image.shape[0] / 2]
        low, high = hand.landmarks[:, :2].min(axis=0), hand.landmarks[:, :2].max(axis=0)
        assert low[0] <= u <= high[0] and low[1] <= v <= high[1], name
        np.testing.assert_allclose(pose.rotation @ pose.rotation.T, np.eye(3), atol=1e-9)


def test_depth_scales_with_focal_length(photo_hands):
    name, image, hand = photo_hands[0]
    near = estimate_hand_pose(hand.world_landmarks, hand.landmarks, webcam(image))
    far = estimate_hand_pose(hand.world_landmarks, hand.landmarks, webcam(image, focal_scale=2.0))
    # The same pixels through a twice longer lens: the same hand must be about twice as far away.
    assert far.position[2] / near.position[2] == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize("model, coefficients", [
    ("plumb_bob", (-0.3, 0.1, 0.001, -0.002, 0.0)),
    ("rational_polynomial", (-0.3, 0.1, 0.001, -0.002, 0.0, 0.05, 0.0, 0.0)),
    ("equidistant", (-0.3, 0.05, 0.0, 0.0)),
])
def test_lens_distortion_is_undone(photo_hands, model, coefficients):
    name, image, hand = photo_hands[0]
    pinhole = webcam(image)
    reference = estimate_hand_pose(hand.world_landmarks, hand.landmarks, pinhole)
    # What a lens with this distortion would have seen of the same hand.
    normalized = np.column_stack([(hand.landmarks[:, :2] - [pinhole.cx, pinhole.cy]) / pinhole.fx, np.ones(21)])
    distorted_camera = CameraIntrinsics(pinhole.fx, pinhole.fy, pinhole.cx, pinhole.cy, coefficients, model)
    project = cv2.fisheye.projectPoints if model == "equidistant" else cv2.projectPoints
    distorted = project(normalized.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), pinhole.camera_matrix,
                        np.array(coefficients))[0].reshape(-1, 2)
    assert np.abs(distorted - hand.landmarks[:, :2]).max() > 5  # the distortion is not negligible
    pose = estimate_hand_pose(hand.world_landmarks, distorted, distorted_camera)
    np.testing.assert_allclose(pose.position, reference.position, atol=1e-3)
    assert pose.reprojection_error_px == pytest.approx(reference.reprojection_error_px, rel=0.1)


def test_failures_give_an_invalid_pose(photo_hands):
    name, image, hand = photo_hands[0]
    camera = webcam(image)
    broken = hand.landmarks.copy()
    broken[5, 0] = np.nan
    for world, pixels in ((hand.world_landmarks, broken), (np.zeros((21, 3)), hand.landmarks)):
        pose = estimate_hand_pose(world, pixels, camera)
        assert not pose.valid and np.isnan(pose.position).all() and pose.reprojection_error_px == np.inf
    # The pixels a hand 0.4 m behind the camera would project to: no real camera sees that.
    behind = hand.world_landmarks + [0, 0, -0.4]
    pixels = behind[:, :2] / behind[:, 2:] * camera.fx + [camera.cx, camera.cy]
    assert not estimate_hand_pose(hand.world_landmarks, pixels, camera).valid
    with pytest.raises(ValueError, match="21"):
        estimate_hand_pose(hand.world_landmarks[:20], hand.landmarks, camera)
    assert not HandPose().valid


def test_quaternion_matches_the_rotation():
    rng = np.random.default_rng(0)
    for rvec in [*rng.normal(0, 1.5, (50, 3)), np.array([np.pi, 0, 0]), np.zeros(3)]:
        rotation = cv2.Rodrigues(rvec)[0]
        x, y, z, w = rotation_to_quaternion(rotation)
        assert w >= 0 and np.isclose(x * x + y * y + z * z + w * w, 1.0)
        rebuilt = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        np.testing.assert_allclose(rebuilt, rotation, atol=1e-9)


def test_intrinsics_from_camera_info():
    camera = CameraIntrinsics.from_camera_info([525.0, 0, 319.5, 0, 525.0, 239.5, 0, 0, 1],
                                               [0.1, -0.2, 0, 0, 0], 640, 480, "plumb_bob")
    assert (camera.fx, camera.cy, camera.width, camera.distortion[1]) == (525.0, 239.5, 640, -0.2)
    np.testing.assert_array_equal(camera.camera_matrix, [[525, 0, 319.5], [0, 525, 239.5], [0, 0, 1]])
    with pytest.raises(ValueError, match="uncalibrated"):
        CameraIntrinsics.from_camera_info([0.0] * 9, [], 640, 480)
    with pytest.raises(ValueError, match="9 elements"):
        CameraIntrinsics.from_camera_info([525.0, 0, 319.5], [], 640, 480)
    with pytest.raises(ValueError, match="distortion model"):
        CameraIntrinsics.from_camera_info([525.0, 0, 319.5, 0, 525.0, 239.5, 0, 0, 1], [0.1], 640, 480, "kannala")


def test_tracker_fills_pose_per_stream():
    frames = read_video("videos/reaching_hand_640x360.mp4", max_frames=3)
    tracker = HandTracker(max_num_hands=1)
    assert tracker.process(frames[0])[0].pose is None  # no intrinsics, no pose
    tracker.set_camera_intrinsics(webcam(frames[0]))
    pose = tracker.process(frames[1])[0].pose
    assert pose.valid and pose.position[2] > 0
    both = tracker.process_streams({None: frames[2], "other": frames[2]})
    assert both[None][0].pose.valid and both["other"][0].pose is None
    tracker.set_camera_intrinsics(None)
    assert tracker.process(frames[2])[0].pose is None
    with pytest.raises(TypeError, match="CameraIntrinsics"):
        tracker.set_camera_intrinsics([640.0, 0, 320.0, 0, 640.0, 180.0, 0, 0, 1])


def test_intrinsics_follow_a_resized_image():
    frames = read_video("videos/reaching_hand_640x360.mp4", max_frames=2)
    calibrated_at_double_size = CameraIntrinsics(fx=1280.0, fy=1280.0, cx=640.0, cy=360.0, width=1280, height=720)
    assert calibrated_at_double_size.for_image_size(640, 360) == CameraIntrinsics(
        fx=640.0, fy=640.0, cx=320.0, cy=180.0, width=640, height=360)
    scaled = HandTracker(max_num_hands=1, smoothing=False)
    exact = HandTracker(max_num_hands=1, smoothing=False)
    scaled.set_camera_intrinsics(calibrated_at_double_size)
    exact.set_camera_intrinsics(calibrated_at_double_size.for_image_size(640, 360))
    for frame in frames:
        from_scaled, from_exact = scaled.process(frame)[0].pose, exact.process(frame)[0].pose
    np.testing.assert_allclose(from_scaled.position, from_exact.position)


@pytest.mark.parametrize("model", ["plumb_bob", "rational_polynomial", "equidistant"])
def test_distortion_lengths_opencv_rejects_are_refused_when_made(photo_hands, model):
    """A coefficient count OpenCV's functions refuse (plumb_bob with 100 values) is refused, naming the model
    and the count, before it can make a pose fit raise cv2.error; every count OpenCV takes fits a pose."""
    name, image, hand = photo_hands[0]
    pinhole = webcam(image)
    undistort = cv2.fisheye.undistortPoints if model == "equidistant" else cv2.undistortPoints
    for count in [*range(0, 16), 100]:
        coefficients = tuple(np.full(count, 1e-3))
        try:  # no coefficients is no distortion: the plain pinhole path, whatever the model
            if count:
                undistort(hand.landmarks[:, None, :2].astype(np.float64), pinhole.camera_matrix, np.array(coefficients))
            opencv_takes = True
        except cv2.error:
            opencv_takes = False
        if opencv_takes:
            camera = CameraIntrinsics(pinhole.fx, pinhole.fy, pinhole.cx, pinhole.cy, coefficients, model)
            assert estimate_hand_pose(hand.world_landmarks, hand.landmarks, camera).valid, (model, count)
        else:
            with pytest.raises(ValueError, match=f"{model} distortion with {count} coefficients"):
                CameraIntrinsics(pinhole.fx, pinhole.fy, pinhole.cx, pinhole.cy, coefficients, model)


def test_wild_distortion_gives_an_invalid_pose_not_an_error(photo_hands):
    """Coefficients no real lens has make the undistortion diverge (NaN): the fit fails for that hand alone,
    it does not raise (which would cost every camera of the batch its hands)."""
    name, image, hand = photo_hands[0]
    pinhole = webcam(image)
    rng = np.random.default_rng(0)
    poses = [estimate_hand_pose(hand.world_landmarks, hand.landmarks, CameraIntrinsics(
        pinhole.fx, pinhole.fy, pinhole.cx, pinhole.cy, tuple(rng.normal(0, scale, count)), "plumb_bob"))
        for count in (5, 8, 12, 14) for scale in (1e3, 1e12) for _ in range(5)]
    assert not all(pose.valid for pose in poses)  # some of them do diverge
    assert all(pose.valid or np.isnan(pose.position).all() for pose in poses)


def test_a_calibration_that_is_not_a_resize_of_the_image_gives_no_intrinsics():
    camera = CameraIntrinsics(fx=500.0, fy=500.0, cx=320.0, cy=180.0, width=640, height=360)
    assert camera.for_image_size(640, 360) is camera
    assert camera.for_image_size(1280, 720).fx == 1000.0
    assert camera.for_image_size(853, 480).cx == pytest.approx(320.0 * 853 / 640)  # rounded 16:9 resize
    assert camera.for_image_size(640, 480) is None   # 4:3: another camera, or a crop
    assert camera.for_image_size(360, 640) is None   # portrait
    unknown_size = CameraIntrinsics(fx=500.0, fy=500.0, cx=320.0, cy=180.0)
    assert unknown_size.for_image_size(1280, 720) is unknown_size
    placeholder = CameraIntrinsics(fx=500.0, fy=500.0, cx=0.5, cy=0.5, width=1, height=1)
    assert placeholder.for_image_size(640, 360) is None and placeholder.for_image_size(16, 16) is None


def test_a_1x1_camera_info_gives_no_pose_instead_of_one_275_m_away():
    frames = read_video("videos/reaching_hand_640x360.mp4", max_frames=2)
    tracker = HandTracker(max_num_hands=1)
    tracker.set_camera_intrinsics(CameraIntrinsics(fx=500.0, fy=500.0, cx=0.5, cy=0.5, width=1, height=1),
                                   stream="bad camera")
    tracker.set_camera_intrinsics(webcam(frames[0]), stream="good camera")
    results = [tracker.process_streams({"bad camera": frame, "good camera": frame}) for frame in frames]
    assert all(hand.pose is None for result in results for hand in result["bad camera"])
    assert results[-1]["bad camera"] and results[-1]["good camera"][0].pose.valid


def test_a_diverging_calibration_costs_only_its_own_camera_the_pose():
    """One camera's undistortion diverging (NaN) must not raise in the batch that tracks every camera."""
    frames = read_video("videos/reaching_hand_640x360.mp4", max_frames=2)
    tracker = HandTracker(max_num_hands=1)
    # Every landmark undistorts to NaN with these (the least-squares start then raised LinAlgError).
    tracker.set_camera_intrinsics(CameraIntrinsics(640.0, 640.0, 320.0, 180.0, (1e3,) * 12, "plumb_bob", 640, 360),
                                  stream="diverging camera")
    tracker.set_camera_intrinsics(webcam(frames[0]), stream="good camera")
    for frame in frames:
        result = tracker.process_streams({"diverging camera": frame, "good camera": frame})
    (diverging,), (good,) = result["diverging camera"], result["good camera"]
    assert not diverging.pose.valid and good.pose.valid
