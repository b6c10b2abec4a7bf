"""BlazePalm palm detector: letterboxed input, 2016 SSD anchors, decoding and weighted NMS.

Constants and formulas follow MediaPipe's palm_detection_cpu.pbtxt (see the reference doc, 1.1-1.4).
"""

from __future__ import annotations

import cv2
import numpy as np

from .backend import OnnxModel
from .geometry import box_iou, rotation_to_vertical, transform_rects

INPUT_SIZE = 192
NUM_KEYPOINTS = 7
SCORE_CLIPPING = 100.0
NMS_IOU = 0.3
# Palm box -> hand crop (palm_detection_detection_to_roi.pbtxt).
PALM_TO_HAND_SHIFT_Y = -0.5
PALM_TO_HAND_SCALE = 2.6
# An image whose longer side is at least this many times its shorter one is also searched in square tiles
# when tiling is asked for: the whole image squeezed into 192x192 leaves a hand too few pixels.
TILE_MIN_ASPECT = 1.5


def generate_anchors() -> np.ndarray:
    """(2016, 2) anchor centres, normalized, in the order of the model's outputs.

    SsdAnchorsCalculator with num_layers 4, strides [8, 16, 16, 16], one aspect ratio plus the interpolated
    one and fixed anchor size: layers of equal stride merge, giving 24x24x2 + 12x12x6 anchors, all of size 1.
    """
    anchors = []
    for stride, per_cell in ((8, 2), (16, 6)):
        grid = INPUT_SIZE // stride
        ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
        centers = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], axis=-1).reshape(-1, 2)
        anchors.append(np.repeat(centers, per_cell, axis=0))
    return np.concatenate(anchors).astype(np.float32)


ANCHORS = generate_anchors()


def letterbox_matrix(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Affine matrix from the image into the 192x192 input, and the (x, y) padding as a fraction of the
    input: the image is scaled to fit, centred, and padded with zeros (ImageToTensor keep_aspect_ratio)."""
    side = max(width, height)
    scale = INPUT_SIZE / side
    matrix = np.array([[scale, 0, (side - width) / 2 * scale],
                       [0, scale, (side - height) / 2 * scale]])
    padding = np.array([(side - width) / 2 / side, (side - height) / 2 / side])
    return matrix, padding


def decode(regressors: np.ndarray, logits: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode raw outputs (2016, 18) and (2016, 1) into scores (K,), boxes (K, 4) xmin, ymin, xmax, ymax and
    keypoints (K, 7, 2), normalized to the letterboxed input, keeping scores >= ``min_score``."""
    scores = 1 / (1 + np.exp(-np.clip(logits[:, 0].astype(np.float64), -SCORE_CLIPPING, SCORE_CLIPPING)))
    keep = np.flatnonzero(scores >= min_score)
    raw = regressors[keep] / INPUT_SIZE
    anchors = ANCHORS[keep]
    centers = raw[:, 0:2] + anchors
    half_sizes = raw[:, 2:4] / 2
    boxes = np.concatenate([centers - half_sizes, centers + half_sizes], axis=1)
    keypoints = raw[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + anchors[:, None, :]
    return scores[keep], boxes, keypoints


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray,
                 iou_threshold: float = NMS_IOU) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED non-max suppression: every detection overlapping the best remaining one by
    IoU > threshold (the best included) is merged into a score-weighted average of boxes and keypoints;
    the merged detection keeps the best score. Output is in descending score order."""
    order = np.argsort(-scores, kind="stable")
    scores, boxes, keypoints = scores[order], boxes[order], keypoints[order]
    iou = box_iou(boxes, boxes)
    remaining = np.ones(len(scores), bool)
    out_scores, out_boxes, out_keypoints = [], [], []
    for best in range(len(scores)):
        if not remaining[best]:
            continue
        members = remaining & (iou[best] > iou_threshold)
        members[best] = True
        weights = scores[members] / scores[members].sum()
        out_scores.append(scores[best])
        out_boxes.append(weights @ boxes[members])
        out_keypoints.append(np.tensordot(weights, keypoints[members], axes=1))
        remaining &= ~members
    if not out_scores:
        return np.zeros(0, np.float32), np.zeros((0, 4), np.float32), np.zeros((0, NUM_KEYPOINTS, 2), np.float32)
    return np.array(out_scores), np.array(out_boxes), np.array(out_keypoints)


def palms_to_hand_rects(boxes: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Hand crops (N, 5) in pixels from palm boxes and keypoints in pixels: rotation from the wrist
    (keypoint 0) to the middle-finger MCP (keypoint 2), shifted towards the fingers and enlarged 2.6x."""
    centers = (boxes[:, :2] + boxes[:, 2:]) / 2
    sizes = boxes[:, 2:] - boxes[:, :2]
    rotation = rotation_to_vertical(keypoints[:, 0], keypoints[:, 2])
    rects = np.column_stack([centers, sizes, rotation])
    return transform_rects(rects, PALM_TO_HAND_SHIFT_Y, PALM_TO_HAND_SCALE)


def tile_squares(width: int, height: int) -> list[tuple[int, int, int]]:
    """Square tiles (x, y, side) of a wide or tall image: as many as the shorter side fits into the longer
    one, plus one, spread evenly from end to end, so that neighbours overlap by a good part of a tile (a hand
    near a seam lies whole in one tile). None for an image closer to square than ``TILE_MIN_ASPECT``."""
    side, length = min(width, height), max(width, height)
    if length < TILE_MIN_ASPECT * side:
        return []
    starts = np.linspace(0, length - side, int(np.ceil(length / side)) + 1).round().astype(int)
    return [(int(start), 0, side) if width > height else (0, int(start), side) for start in starts]


class PalmDetector:
    """Runs the palm model on whole images and returns palms in image pixels."""

    def __init__(self, model: OnnxModel):
        self.model = model

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (3, 192, 192) float input and the letterbox padding for one RGB uint8 image."""
        height, width = image.shape[:2]
        matrix, padding = letterbox_matrix(width, height)
        letterboxed = cv2.warpAffine(image, matrix, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return cv2.dnn.blobFromImage(letterboxed, scalefactor=1 / 255.0)[0], padding

    def postprocess(self, regressors: np.ndarray, logits: np.ndarray, padding: np.ndarray, width: int,
                    height: int, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores (N,), boxes (N, 4) and keypoints (N, 7, 2) in pixels, best first."""
        scores, boxes, keypoints = weighted_nms(*decode(regressors, logits, min_score))
        # Letterbox removal: from the padded square back to the image.
        content = 1 - 2 * padding
        size = np.array([width, height])
        boxes = ((boxes.reshape(-1, 2, 2) - padding) / content * size).reshape(-1, 4)
        keypoints = (keypoints - padding) / content * size
        return scores, boxes, keypoints

    def detect(self, images: list[np.ndarray], min_score: float, tiles: bool = False
               ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Palms of each image (one batched inference for all images). ``tiles``: wide or tall images are
        also searched in their ``tile_squares``, finding hands about half as big, and the palms of the
        whole image and of its tiles are merged by the same weighted non-max suppression."""
        views = []  # (image index, x, y, pixels)
        for index, image in enumerate(images):
            views.append((index, 0, 0, image))
            if tiles:
                views += [(index, x, y, np.ascontiguousarray(image[y:y + side, x:x + side]))
                          for x, y, side in tile_squares(image.shape[1], image.shape[0])]
        inputs = [self.preprocess(view) for *_, view in views]
        regressors, logits = self.model.run(np.stack([blob for blob, _ in inputs]))
        palms = [[] for _ in images]
        for row, ((index, x, y, view), (_, padding)) in enumerate(zip(views, inputs)):
            scores, boxes, keypoints = self.postprocess(regressors[row], logits[row], padding, view.shape[1],
                                                        view.shape[0], min_score)
            palms[index].append((scores, boxes + [x, y, x, y], keypoints + [x, y]))
        return [found[0] if len(found) == 1 else weighted_nms(*(np.concatenate(part) for part in zip(*found)))
                for found in palms]
