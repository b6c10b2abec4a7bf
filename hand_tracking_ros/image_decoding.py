"""ROS image messages to RGB arrays and back: the one decoding path of the node and the bag command.

Works on any message flavour with the fields of sensor_msgs/Image (header, height, width, encoding,
is_bigendian, step, data) or sensor_msgs/CompressedImage (header, format, data): rclpy's generated classes
and rosbags' dataclasses alike. Pure numpy; OpenCV for colour conversion, demosaicing and JPEG/PNG.

Raw images: rows are ``step`` bytes apart (drivers pad rows for alignment, so ``step`` may exceed the
row's pixels), 16-bit samples are big-endian when ``is_bigendian`` is set and are scaled to 8 bits (the
top byte: a 12-bit camera in a 16-bit container gives a dark image, as with cv_bridge). Encodings
(names as in ROS 2's sensor_msgs/image_encodings.hpp):

- rgb8, bgr8, rgba8, bgra8, mono8 and their 16-bit forms rgb16, bgr16, rgba16, bgra16, mono16 (alpha
  dropped, grey repeated in the three channels);
- the OpenCV types 8UC1 (as mono8), 8UC3 (as bgr8, OpenCV's order, as cv_bridge assumes), 8UC4 (as
  bgra8) and 16UC1 (as mono16);
- Bayer mosaics bayer_rggb8, bayer_bggr8, bayer_gbrg8, bayer_grbg8 and their 16-bit forms (demosaiced);
- YUV 4:2:2 packed uyvy (and its old name yuv422) and yuyv (yuv422_yuy2), even width;
- YUV semi-planar nv12 and nv21 (4:2:0, even width and height: ``height`` rows of luma, then
  ``height / 2`` rows of interleaved chroma, all ``step`` bytes apart) and nv24 (4:4:4: ``height`` rows of
  luma ``step`` bytes apart, then ``height`` rows of interleaved U, V ``2 * step`` bytes apart).
  YUV is BT.601 limited range, as OpenCV decodes it.

Everything else is refused with an ``ImageDecodeError`` instead of being cast: float and signed images
(32FC*, 64FC*, 32SC*, 16SC*, 8SC*) are depth maps or measurements, not pictures of hands.

Depth images (``depth_image_to_metres``, the depth topics of RGB-D cameras, a separate path on purpose):
16UC1 millimetres and 32FC1 metres (what RealSense, OAK-D and ZED drivers publish), rows ``step`` bytes
apart, either byte order, as float32 metres with NaN where nothing was measured (0, NaN, inf).
Everything else, compressedDepth included, is refused with a reason.

Compressed images: any ``format`` OpenCV reads (``jpeg``, ``png``, or image_transport's
``"rgb8; jpeg compressed bgr8"``). As image_transport's compressed subscriber does, data marked
``compressed rgb...`` holds its channels in RGB order. compressedDepth (depth maps) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .tracker import MAX_IMAGE_SIDE

# Reasons an image is refused (ImageDecodeError.reason), short and fixed so callers can count by them.
UNSUPPORTED_ENCODING = "unsupported encoding"
EMPTY_IMAGE = "empty image"
TOO_LARGE = "too large"
ODD_SIZE = "odd size"
BAD_STEP = "bad step"
SHORT_DATA = "short data"
UNDECODABLE = "undecodable compressed data"
REASONS = (UNSUPPORTED_ENCODING, EMPTY_IMAGE, TOO_LARGE, ODD_SIZE, BAD_STEP, SHORT_DATA, UNDECODABLE)


class ImageDecodeError(ValueError):
    """An image message that cannot be turned into an RGB picture. ``str(error)`` says why in one line;
    ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class _Layout:
    """How one encoding lays out its pixels, and how OpenCV turns them into RGB."""

    samples: int            # samples per pixel in a row (2 for YUV 4:2:2, 1 for Bayer and NV luma rows)
    sample_bytes: int       # 1 or 2
    to_rgb: int | None      # cv2.cvtColor code; None when the samples are RGB already
    planes: str = "packed"  # "packed", "nv420" (chroma plane of half height) or "nv444" (full-size chroma)


_BAYER_TO_RGB = {  # OpenCV names a mosaic after its second row, so ROS's rggb is OpenCV's BG
    "rggb": cv2.COLOR_BayerBG2RGB, "bggr": cv2.COLOR_BayerRG2RGB,
    "gbrg": cv2.COLOR_BayerGR2RGB, "grbg": cv2.COLOR_BayerGB2RGB,
}
LAYOUTS: dict[str, _Layout] = {
    **{f"{name}{bits}": _Layout(samples, bits // 8, code) for bits in (8, 16) for name, samples, code in (
        ("rgb", 3, None), ("bgr", 3, cv2.COLOR_BGR2RGB), ("rgba", 4, cv2.COLOR_RGBA2RGB),
        ("bgra", 4, cv2.COLOR_BGRA2RGB), ("mono", 1, cv2.COLOR_GRAY2RGB))},
    **{f"bayer_{pattern}{bits}": _Layout(1, bits // 8, code) for bits in (8, 16)
       for pattern, code in _BAYER_TO_RGB.items()},
    "8UC1": _Layout(1, 1, cv2.COLOR_GRAY2RGB),
    "8UC3": _Layout(3, 1, cv2.COLOR_BGR2RGB),
    "8UC4": _Layout(4, 1, cv2.COLOR_BGRA2RGB),
    "16UC1": _Layout(1, 2, cv2.COLOR_GRAY2RGB),
    "uyvy": _Layout(2, 1, cv2.COLOR_YUV2RGB_UYVY),
    "yuv422": _Layout(2, 1, cv2.COLOR_YUV2RGB_UYVY),
    "yuyv": _Layout(2, 1, cv2.COLOR_YUV2RGB_YUY2),
    "yuv422_yuy2": _Layout(2, 1, cv2.COLOR_YUV2RGB_YUY2),
    "nv12": _Layout(1, 1, cv2.COLOR_YUV2RGB_NV12, "nv420"),
    "nv21": _Layout(1, 1, cv2.COLOR_YUV2RGB_NV21, "nv420"),
    "nv24": _Layout(1, 1, cv2.COLOR_YUV2RGB_YUY2, "nv444"),  # decoded as YUYV with each pixel doubled
}
ENCODINGS = tuple(LAYOUTS)


def _byte_array(data) -> np.ndarray:
    """A message's ``data`` (numpy array, bytes, array.array from rclpy, or a list) as uint8, without a copy
    where it has a buffer."""
    if isinstance(data, np.ndarray):
        return data.reshape(-1).view(np.uint8)
    try:
        return np.frombuffer(data, np.uint8)
    except TypeError:
        return np.asarray(data, np.uint8).reshape(-1)


def _check_size(width: int, height: int) -> None:
    if width == 0 or height == 0:
        raise ImageDecodeError(EMPTY_IMAGE, f"image is empty ({width}x{height})")
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ImageDecodeError(TOO_LARGE, f"image {width}x{height} is larger than {MAX_IMAGE_SIDE} pixels a side")


def image_to_rgb(msg) -> np.ndarray:
    """A sensor_msgs/Image as a new C-contiguous uint8 RGB array (height, width, 3), or ImageDecodeError."""
    encoding = str(msg.encoding)
    layout = LAYOUTS.get(encoding)
    if layout is None:
        raise ImageDecodeError(UNSUPPORTED_ENCODING,
                               f"encoding {encoding!r} is not read as a picture (float, signed and other "
                               f"multi-channel types hold depth or measurements); readable: {', '.join(ENCODINGS)}")
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    _check_size(width, height)
    if (layout.samples == 2 or layout.planes == "nv420") and width % 2:
        raise ImageDecodeError(ODD_SIZE, f"{encoding} needs an even width (pixel pairs share their colour), "
                                         f"got {width}x{height}")
    if layout.planes == "nv420" and height % 2:
        raise ImageDecodeError(ODD_SIZE, f"{encoding} needs an even height (2x2 pixels share their colour), "
                                         f"got {width}x{height}")
    row_bytes = width * layout.samples * layout.sample_bytes
    if step < row_bytes:
        raise ImageDecodeError(BAD_STEP, f"step {step} is shorter than a row of {width} {encoding} pixels "
                                         f"({row_bytes} bytes)")
    rows = {"packed": height, "nv420": height * 3 // 2, "nv444": height * 3}[layout.planes]
    data = _byte_array(msg.data)
    if data.size < rows * step:
        raise ImageDecodeError(SHORT_DATA, f"{encoding} {width}x{height} with step {step} needs {rows * step} bytes "
                                           f"of data, got {data.size}")
    if layout.planes == "nv444":
        luma = data[:height * step].reshape(height, step)[:, :width]
        chroma = data[height * step:rows * step].reshape(height, 2 * step)[:, :2 * width].reshape(height, width, 2)
        # OpenCV has no NV24 conversion: Y U Y V per pixel is YUYV at twice the width, each pixel twice.
        pixels = np.stack([luma, chroma[..., 0], luma, chroma[..., 1]], axis=-1).reshape(height, 2 * width, 2)
        return np.ascontiguousarray(cv2.cvtColor(pixels, layout.to_rgb)[:, ::2])
    samples = data[:rows * step].reshape(rows, step)[:, :row_bytes]
    if layout.sample_bytes == 2:
        # (Padded rows are copied first: NumPy before 1.23 views only contiguous arrays as another item size.)
        samples = np.ascontiguousarray(samples).view(">u2" if msg.is_bigendian else "<u2").astype(np.uint16)
    if layout.planes == "packed" and layout.samples > 1:
        samples = samples.reshape(rows, width, layout.samples)
    rgb = samples.copy() if layout.to_rgb is None else cv2.cvtColor(samples, layout.to_rgb)
    return (rgb >> 8).astype(np.uint8) if rgb.dtype == np.uint16 else rgb


def compressed_image_to_rgb(msg) -> np.ndarray:
    """A sensor_msgs/CompressedImage as a C-contiguous uint8 RGB array (height, width, 3), or
    ImageDecodeError."""
    image_format = str(msg.format)
    if "compresseddepth" in image_format.lower():
        raise ImageDecodeError(UNSUPPORTED_ENCODING, f"format {image_format!r} is a depth map, not a picture")
    data = _byte_array(msg.data)
    if data.size == 0:
        raise ImageDecodeError(EMPTY_IMAGE, f"compressed image ({image_format!r}) has no data")
    # Pixels as sent: a camera's EXIF orientation tag is no reason to turn its image.
    try:
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error:  # some codecs raise on corrupt headers instead of returning None
        decoded = None
    if decoded is None:
        raise ImageDecodeError(UNDECODABLE, f"OpenCV cannot decode this {image_format or 'compressed'!r} data "
                                            f"({data.size} bytes)")
    _check_size(decoded.shape[1], decoded.shape[0])
    # image_transport writes RGB images into the file as they are ("compressed rgb8"): OpenCV's BGR is RGB.
    return decoded if "compressed rgb" in image_format.lower() else cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def message_to_rgb(msg) -> np.ndarray:
    """An Image or CompressedImage message (told apart by CompressedImage's ``format`` field) as RGB."""
    return compressed_image_to_rgb(msg) if hasattr(msg, "format") else image_to_rgb(msg)


# Depth encodings: sample type and the factor to metres.
DEPTH_ENCODINGS = {"16UC1": ("u2", 1e-3), "32FC1": ("f4", 1.0)}


def depth_image_to_metres(msg) -> np.ndarray:
    """A sensor_msgs/Image of an aligned depth camera as a new float32 array (height, width) of metres, NaN
    where there is no measurement, or ImageDecodeError (the reasons of ``REASONS``)."""
    if hasattr(msg, "format"):
        raise ImageDecodeError(UNSUPPORTED_ENCODING, f"a depth topic must carry sensor_msgs/Image (16UC1 or 32FC1), "
                                                     f"not CompressedImage ({str(msg.format)!r})")
    encoding = str(msg.encoding)
    if encoding not in DEPTH_ENCODINGS:
        raise ImageDecodeError(UNSUPPORTED_ENCODING, f"depth encoding {encoding!r} is not a depth image; readable: "
                                                     f"16UC1 (millimetres) and 32FC1 (metres)")
    sample, to_metres = DEPTH_ENCODINGS[encoding]
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    _check_size(width, height)
    row_bytes = width * int(sample[1])
    if step < row_bytes:
        raise ImageDecodeError(BAD_STEP, f"step {step} is shorter than a row of {width} {encoding} pixels "
                                         f"({row_bytes} bytes)")
    data = _byte_array(msg.data)
    if data.size < height * step:
        raise ImageDecodeError(SHORT_DATA, f"{encoding} {width}x{height} with step {step} needs {height * step} "
                                           f"bytes of data, got {data.size}")
    rows = np.ascontiguousarray(data[:height * step].reshape(height, step)[:, :row_bytes])
    values = rows.view((">" if msg.is_bigendian else "<") + sample).astype(np.float32)
    if to_metres != 1.0:
        values *= np.float32(to_metres)
    values[~(np.isfinite(values) & (values > 0))] = np.nan
    return values


def rgb_image_fields(image_rgb: np.ndarray) -> dict:
    """The fields of a sensor_msgs/Image (all but the header) that hold ``image_rgb`` (H, W, 3 uint8) as
    rgb8; ``data`` is bytes (rosbags takes a numpy array of it, rclpy an array.array)."""
    image = np.ascontiguousarray(image_rgb)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    return {"height": height, "width": width, "encoding": "rgb8", "is_bigendian": 0, "step": width * 3,
            "data": image.tobytes()}
