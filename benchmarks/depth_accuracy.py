#!/usr/bin/env python3
"""Wrist position error in the camera frame: the hand-model pose against RGB-D depth fusion.

On ``../shared/data/labelled_dev`` (its README has the schema and the scoring rule): 4 real InterHand2.6M
photos with 6 hands at 1.07-1.17 m, and 3 rendered RHD images at 0.41-0.69 m, all with ground-truth 3D
joints in the camera frame and the camera's intrinsics. The palm detector finds few of the InterHand
hands (tight crops of large hands; column "det"), so each labelled hand's landmarks come from the landmark
model on the crop its labelled keypoints give (``landmarks.tracking_rects``), as a tracked hand's come from
the previous frame's landmarks; a hand is found when its landmarks lie within half its size of the labels
(mean 2D distance, the README's rule).

Per found hand:

* hand model: ``pose.estimate_hand_pose`` (PnP with the model's average hand size, what ``Hand.pose`` holds);
* depth: ``depth_fusion.fuse_depth`` fed with a depth image rendered from the ground-truth joints of all
  the labelled hands of the image (benchmarks/synthetic_depth.py: skin capsules, a background plane 0.5 m
  behind, noise, 10 % holes), as uint16 millimetres;
* depth, tips hidden: the same with no depth in a disc around every fingertip.

Errors are ``|wrist - true wrist|`` (and the mean over the 21 landmarks) in centimetres. The datasets place
their wrist and thumb-base points a little differently from MediaPipe, and the tracker's 2D landmarks are
a few pixels off the labels: both set a floor of a few millimetres under any 3D method here.

    python benchmarks/depth_accuracy.py [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "labelled_dev"
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from hand_tracking_ros import HandTracker  # noqa: E402
from hand_tracking_ros.depth_fusion import fuse_depth  # noqa: E402
from hand_tracking_ros.landmarks import tracking_rects  # noqa: E402
from hand_tracking_ros.pose import CameraIntrinsics, estimate_hand_pose  # noqa: E402
from speed import cpu_description  # noqa: E402
from synthetic_depth import synthetic_depth_image  # noqa: E402

TIPS = (4, 8, 12, 16, 20)
BACKGROUND_BEHIND_M = 0.5
TIP_HOLE_FRACTION = 0.06  # radius of the hole around each fingertip, over the hand's size in pixels


def errors_cm(landmarks_camera: np.ndarray | None, truth: np.ndarray) -> tuple[float, float]:
    """(wrist error, mean error over the 21 landmarks) in centimetres; NaN without landmarks."""
    if landmarks_camera is None:
        return float("nan"), float("nan")
    distances = np.linalg.norm(landmarks_camera - truth, axis=1) * 100
    return float(distances[0]), float(distances.mean())


def evaluate(seed: int) -> list[dict]:
    labels = json.loads((DATA_DIR / "labels.json").read_text())
    tracker = HandTracker(static_image_mode=True, max_num_hands=2)
    rng = np.random.default_rng(seed)
    rows = []
    for name, labelled in labels.items():
        image = cv2.cvtColor(cv2.imread(str(DATA_DIR / "images" / name), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        height, width = image.shape[:2]
        k = labelled[0]["camera"]
        camera = CameraIntrinsics(fx=k["fx"], fy=k["fy"], cx=k["cx"], cy=k["cy"], width=width, height=height)
        keypoints = np.array([label["keypoints"] for label in labelled], np.float64)[..., :2]
        truths = [np.asarray(label["camera_xyz_m"], np.float64) for label in labelled]
        detected = tracker.process(image)
        # Each labelled hand's crop from its keypoints, as tracking takes it from the previous frame's.
        batch = tracker.landmark_model.run([image], np.zeros(len(labelled), np.int64), tracking_rects(keypoints))
        background = float(np.median(np.concatenate(truths)[:, 2])) + BACKGROUND_BEHIND_M
        depth = synthetic_depth_image(truths, camera, width, height, rng, background_m=background)
        for index, (label, truth) in enumerate(zip(labelled, truths)):
            pixels, world = batch.landmarks[index], batch.world_landmarks[index]
            size = np.ptp(keypoints[index], axis=0).max()
            row = {"image": name, "hand": label["handedness"], "distance_m": float(truth[0, 2]),
                   "detected": any(_mean_distance(hand.landmarks, keypoints[index]) < 0.5 * size
                                   for hand in detected),
                   "found": _mean_distance(pixels, keypoints[index]) < 0.5 * size}
            if row["found"]:
                holes = tuple((*pixels[i, :2], TIP_HOLE_FRACTION * size) for i in TIPS)
                hidden = synthetic_depth_image(truths, camera, width, height, rng, background_m=background,
                                               holes_at=holes)
                model = estimate_hand_pose(world, pixels, camera)
                fused, fused_hidden = (fuse_depth(world, pixels, camera, d) for d in (depth, hidden))
                row.update(model=errors_cm(model.landmarks_camera if model.valid else None, truth),
                           depth=errors_cm(fused.landmarks_camera if fused else None, truth),
                           hidden=errors_cm(fused_hidden.landmarks_camera if fused_hidden else None, truth),
                           depth_landmarks=fused.depth_landmark_count if fused else 0,
                           scale=fused.scale if fused else float("nan"))
            rows.append(row)
    return rows


def _mean_distance(pixels: np.ndarray, keypoints: np.ndarray) -> float:
    return float(np.linalg.norm(pixels[:, :2] - keypoints, axis=1).mean())


def print_table(rows: list[dict]) -> None:
    header = (f"{'image':26} {'hand':5} {'z m':>5} {'det':>3} | {'hand model':>15} | {'depth':>15} | "
              f"{'tips hidden':>15} | {'n depth':>7} {'scale':>5}")
    print(header)
    print(f"{'':42} | {'wrist / mean cm':>15} | {'wrist / mean cm':>15} | {'wrist / mean cm':>15} |")
    print("-" * len(header))
    for row in rows:
        if not row["found"]:
            print(f"{row['image']:26} {row['hand']:5} {row['distance_m']:5.2f} {'yes' if row['detected'] else 'no':>3} "
                  "| not found")
            continue
        cells = " | ".join(f"{wrist:7.1f} / {mean:5.1f}" for wrist, mean in (row["model"], row["depth"], row["hidden"]))
        print(f"{row['image']:26} {row['hand']:5} {row['distance_m']:5.2f} {'yes' if row['detected'] else 'no':>3} "
              f"| {cells} | {row['depth_landmarks']:7d} "
              f"{row['scale']:5.2f}")
    print()
    for title, prefix in (("InterHand2.6M (real photos)", "interhand"), ("RHD (rendered)", "rhd")):
        found = [row for row in rows if row["image"].startswith(prefix) and row["found"]]
        total = sum(row["image"].startswith(prefix) for row in rows)
        summary = []
        for key, what in (("model", "hand model"), ("depth", "depth"), ("hidden", "tips hidden")):
            wrists = np.array([row[key][0] for row in found])
            summary.append(f"{what} median {np.nanmedian(wrists):.1f} / max {np.nanmax(wrists):.1f} cm")
        detected = sum(row["detected"] for row in rows if row["image"].startswith(prefix))
        print(f"{title}: {len(found)}/{total} hands found from their crops ({detected} by the palm detector); "
              "wrist error: " + "; ".join(summary))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="seed of the depth noise and holes (default 0)")
    args = parser.parse_args()
    print_table(evaluate(args.seed))
    print(f"\nCPU: {cpu_description()}; numpy {np.__version__}, OpenCV {cv2.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
