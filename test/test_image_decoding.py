"""ROS image messages to RGB: every camera encoding from a real photo, padded rows, endianness, refusals."""

from __future__ import annotations

import array
import struct
import zlib

import cv2
import numpy as np
import pytest
from conftest import load_rgb

from hand_tracking_ros import image_decoding
from hand_tracking_ros.image_decoding import (
    ENCODINGS,
    ImageDecodeError,
    compressed_image_to_rgb,
    depth_image_to_metres,
    image_to_rgb,
    message_to_rgb,
    rgb_image_fields,
)
from hand_tracking_ros.tracker import MAX_IMAGE_SIDE

# The rest of this module needs rosbags (the message classes), a test dependency.
pytest.importorskip("rosbags", reason="rosbags is not installed (pip install -e \".[test]\")")
from hand_tracking_ros.rosbags_messages import default_message, make_typestore

TYPESTORE = make_typestore()
PAD = 13  # bytes of padding at the end of each row: odd, so no row starts aligned


@pytest.fixture(scope="module")
def photo():
    """A real photo cropped to even sides (the YUV encodings share colour between pixel pairs)."""
    rgb = load_rgb("hands/thumb_up_2.jpg")
    height, width = rgb.shape[:2]
    return np.ascontiguousarray(rgb[:height - height % 2, :width - width % 2])


def image(encoding: str, rows: np.ndarray, *, pad: int = 0, bigendian: bool = False, width: int | None = None,
          height: int | None = None):
    """A sensor_msgs/Image whose rows of bytes are ``rows`` (one row per line of the buffer) plus ``pad``
    bytes per row; ``width`` and ``height`` default to the picture's."""
    rows = np.ascontiguousarray(rows).view(np.uint8).reshape(len(rows), -1)
    padded = np.concatenate([rows, np.full((len(rows), pad), 0xAB, np.uint8)], axis=1)
    msg = default_message(TYPESTORE, "sensor_msgs/msg/Image")
    msg.encoding, msg.is_bigendian, msg.step, msg.data = encoding, int(bigendian), padded.shape[1], padded.reshape(-1)
    msg.width = width if width is not None else rows.shape[1] // image_decoding.LAYOUTS[encoding].samples \
        // image_decoding.LAYOUTS[encoding].sample_bytes
    msg.height = height if height is not None else len(rows)
    return msg


def mean_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int32) - b.astype(np.int32)).mean())


def check_rgb(result: np.ndarray, shape) -> np.ndarray:
    assert result.dtype == np.uint8 and result.shape == (*shape[:2], 3) and result.flags.c_contiguous
    return result


def yuv444(photo: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-resolution Y, U, V planes (BT.601 limited range, OpenCV's): YUYV of the photo with every pixel
    doubled, so that each pair's shared chroma is the pixel's own."""
    yuyv = cv2.cvtColor(np.repeat(photo, 2, axis=1), cv2.COLOR_RGB2YUV_YUYV)
    return yuyv[:, 0::2, 0], yuyv[:, 0::2, 1], yuyv[:, 1::2, 1]


def encoded(photo: np.ndarray, encoding: str) -> np.ndarray:
    """The rows of bytes a camera publishing ``encoding`` would send for ``photo``."""
    height, width = photo.shape[:2]
    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    if encoding in ("rgb8", "bgr8", "rgba8", "bgra8", "8UC3", "8UC4"):
        code = {"rgb8": None, "bgr8": cv2.COLOR_RGB2BGR, "rgba8": cv2.COLOR_RGB2RGBA, "bgra8": cv2.COLOR_RGB2BGRA,
                "8UC3": cv2.COLOR_RGB2BGR, "8UC4": cv2.COLOR_RGB2BGRA}[encoding]
        return (photo if code is None else cv2.cvtColor(photo, code)).reshape(height, -1)
    if encoding in ("mono8", "8UC1"):
        return gray
    if encoding in ("uyvy", "yuv422"):
        return cv2.cvtColor(photo, cv2.COLOR_RGB2YUV_UYVY).reshape(height, -1)
    if encoding in ("yuyv", "yuv422_yuy2"):
        return cv2.cvtColor(photo, cv2.COLOR_RGB2YUV_YUYV).reshape(height, -1)
    if encoding in ("nv12", "nv21"):
        i420 = cv2.cvtColor(photo, cv2.COLOR_RGB2YUV_I420)
        u = i420[height:height + height // 4].reshape(height // 2, width // 2)
        v = i420[height + height // 4:].reshape(height // 2, width // 2)
        chroma = np.stack([u, v] if encoding == "nv12" else [v, u], axis=-1).reshape(height // 2, width)
        return np.concatenate([i420[:height], chroma])
    if encoding == "nv24":
        y, u, v = yuv444(photo)
        # The chroma plane's rows are twice as long: split each in two buffer rows of the luma's length.
        return np.concatenate([y, np.stack([u, v], axis=-1).reshape(2 * height, width)])
    if encoding.startswith("bayer_"):
        return mosaic(photo, encoding[6:10])
    raise AssertionError(encoding)


BAYER_OFFSETS = {  # (row, column) of R and of B in the 2x2 tile; G fills the other two
    "rggb": ((0, 0), (1, 1)), "bggr": ((1, 1), (0, 0)), "gbrg": ((1, 0), (0, 1)), "grbg": ((0, 1), (1, 0)),
}


def mosaic(photo: np.ndarray, pattern: str) -> np.ndarray:
    """What a Bayer sensor with ``pattern`` records of ``photo``: one colour sample per pixel."""
    (red_row, red_col), (blue_row, blue_col) = BAYER_OFFSETS[pattern]
    result = photo[..., 1].copy()
    result[red_row::2, red_col::2] = photo[red_row::2, red_col::2, 0]
    result[blue_row::2, blue_col::2] = photo[blue_row::2, blue_col::2, 2]
    return result


# Mean absolute error (0-255) a lossless path must stay under: chroma sub-sampling and demosaicing blur
# edges by a few levels on average; a swapped channel or a sheared row costs tens.
EXACT, SUBSAMPLED = 0.0, 3.0
ENCODING_ERRORS = {
    "rgb8": EXACT, "bgr8": EXACT, "rgba8": EXACT, "bgra8": EXACT, "8UC3": EXACT, "8UC4": EXACT,
    "uyvy": SUBSAMPLED, "yuv422": SUBSAMPLED, "yuyv": SUBSAMPLED, "yuv422_yuy2": SUBSAMPLED,
    "nv12": SUBSAMPLED, "nv21": SUBSAMPLED, "nv24": SUBSAMPLED,
    **{f"bayer_{pattern}8": SUBSAMPLED for pattern in BAYER_OFFSETS},
}


@pytest.mark.parametrize("encoding", sorted(ENCODING_ERRORS))
def test_colour_encodings_give_the_photo_back(photo, encoding):
    result = check_rgb(image_to_rgb(image(encoding, encoded(photo, encoding), width=photo.shape[1],
                                          height=photo.shape[0])), photo.shape)
    assert mean_error(result, photo) <= ENCODING_ERRORS[encoding]
    # The channels are where they belong: the photo with red and blue swapped is far off.
    assert mean_error(result, photo[..., ::-1]) > 10


@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_grey_is_repeated_in_three_channels(photo, encoding):
    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    result = check_rgb(image_to_rgb(image(encoding, gray)), photo.shape)
    np.testing.assert_array_equal(result, np.repeat(gray[..., None], 3, axis=2))


def test_a_wrong_bayer_pattern_is_visibly_wrong(photo):
    """Guards the pattern table: each pattern decodes only its own mosaic right."""
    for pattern in BAYER_OFFSETS:
        recorded = image(f"bayer_{pattern}8", mosaic(photo, pattern))
        for other in BAYER_OFFSETS:
            recorded.encoding = f"bayer_{other}8"
            error = mean_error(image_to_rgb(recorded), photo)
            assert (error <= SUBSAMPLED) == (other == pattern), (pattern, other, error)


@pytest.mark.parametrize("encoding", ["bgr8", "rgba8", "mono8", "uyvy", "nv21", "nv24", "bayer_grbg8"])
def test_padded_rows_decode_unsheared(photo, encoding):
    """Drivers pad rows (step > width * bytes per pixel): the padding is skipped, not read as pixels."""
    rows = encoded(photo, encoding)
    size = {"width": photo.shape[1], "height": photo.shape[0]}
    unpadded = image_to_rgb(image(encoding, rows, **size))
    if encoding == "nv24":  # the chroma rows of nv24 are 2 * step apart: pad each buffer row pair as one
        luma, chroma = rows[:photo.shape[0]], rows[photo.shape[0]:].reshape(photo.shape[0], -1)
        padded_luma = image(encoding, luma, pad=PAD)
        chroma = np.concatenate([chroma, np.zeros((len(chroma), 2 * PAD), np.uint8)], axis=1)
        padded = image(encoding, luma, **size)
        padded.step = padded_luma.step
        padded.data = np.concatenate([padded_luma.data, chroma.reshape(-1)])
    else:
        padded = image(encoding, rows, pad=PAD, **size)
    assert padded.step > rows.shape[1]
    np.testing.assert_array_equal(image_to_rgb(padded), unpadded)


@pytest.mark.parametrize("encoding", ["mono16", "16UC1", "rgb16", "bgra16", "bayer_rggb16"])
@pytest.mark.parametrize("bigendian", [False, True])
def test_16_bit_samples_in_either_byte_order(photo, encoding, bigendian):
    """16-bit samples keep their top byte, whichever byte order the header declares."""
    base = {"mono16": "mono8", "16UC1": "mono8", "rgb16": "rgb8", "bgra16": "bgra8",
            "bayer_rggb16": "bayer_rggb8"}[encoding]
    samples8 = encoded(photo, base)
    # A 16-bit camera's samples: the 8-bit value in the top byte, sensor detail in the low byte.
    samples16 = (samples8.astype(np.uint16) << 8) | np.uint16(0x5A)
    rows = samples16.astype(">u2" if bigendian else "<u2")
    expected = image_to_rgb(image(base, samples8, width=photo.shape[1], height=photo.shape[0]))
    result = image_to_rgb(image(encoding, rows, pad=PAD, bigendian=bigendian, width=photo.shape[1],
                                height=photo.shape[0]))
    check_rgb(result, photo.shape)
    if encoding.startswith("bayer"):  # demosaiced at 16 bits: rounding differs from the 8-bit path by one
        assert np.abs(result.astype(int) - expected).max() <= 1
    else:
        np.testing.assert_array_equal(result, expected)
    # Read in the wrong byte order, the low byte would be taken for the picture.
    wrong = image(encoding, rows, pad=PAD, bigendian=not bigendian, width=photo.shape[1], height=photo.shape[0])
    assert mean_error(image_to_rgb(wrong), expected) > 20


@pytest.mark.parametrize("encoding", ["32FC3", "32SC3", "32FC1", "64FC1", "16SC1", "8SC3", "8UC2", "16UC3",
                                      "jpeg", "", "RGB8"])
def test_other_encodings_are_refused_not_cast(encoding):
    msg = image("rgb8", np.zeros((4, 12), np.uint8))
    msg.encoding = encoding
    with pytest.raises(ImageDecodeError, match=f"encoding '{encoding}' is not read as a picture") as error:
        image_to_rgb(msg)
    assert error.value.reason == "unsupported encoding"
    assert "\n" not in str(error.value) and "rgb8" in str(error.value)  # one line that names what works


@pytest.mark.parametrize("change, reason, message", [
    ({"step": 11}, "bad step", "step 11 is shorter than a row of 4 rgb8 pixels (12 bytes)"),
    ({"data": np.zeros(47, np.uint8)}, "short data", "needs 48 bytes of data, got 47"),
    ({"height": 5}, "short data", "needs 60 bytes of data, got 48"),
    ({"width": 5}, "bad step", "shorter than a row"),
    ({"width": 0}, "empty image", "image is empty (0x4)"),
    ({"height": 0, "data": np.zeros(0, np.uint8)}, "empty image", "image is empty"),
    ({"width": MAX_IMAGE_SIDE + 1}, "too large", f"larger than {MAX_IMAGE_SIDE} pixels a side"),
    ({"encoding": "uyvy", "width": 3, "step": 6}, "odd size", "uyvy needs an even width"),
    ({"encoding": "nv21", "height": 3}, "odd size", "nv21 needs an even height"),
    ({"encoding": "nv21", "width": 12}, "short data", "needs 72 bytes of data, got 48"),
])
def test_inconsistent_headers_are_refused_with_a_reason(change, reason, message):
    msg = image("rgb8", np.zeros((4, 12), np.uint8))
    for field, value in change.items():
        setattr(msg, field, value)
    with pytest.raises(ImageDecodeError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        image_to_rgb(msg)
    assert error.value.reason == reason and error.value.reason in image_decoding.REASONS


def test_data_from_rclpy_and_longer_data(photo):
    """rclpy hands uint8[] fields over as array.array; extra bytes after the last row are ignored."""
    msg = image("bgr8", encoded(photo, "bgr8"))
    msg.data = array.array("B", msg.data.tobytes() + b"\0" * 7)
    np.testing.assert_array_equal(image_to_rgb(msg), photo)
    msg.data = msg.data.tobytes()  # bytes too
    result = image_to_rgb(msg)
    np.testing.assert_array_equal(result, photo)
    result[0, 0] = 0  # the result is the caller's own array
    assert image_to_rgb(msg)[0, 0].tolist() == photo[0, 0].tolist()


def compressed(data: bytes | np.ndarray, image_format: str):
    msg = default_message(TYPESTORE, "sensor_msgs/msg/CompressedImage")
    msg.format, msg.data = image_format, np.frombuffer(bytes(data), np.uint8)
    return msg


@pytest.mark.parametrize("image_format", ["jpeg", "png", "rgb8; jpeg compressed bgr8", "bgr8; png compressed bgr8"])
def test_compressed_images(photo, image_format):
    extension = ".png" if "png" in image_format else ".jpg"
    data = cv2.imencode(extension, cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))[1]
    result = check_rgb(message_to_rgb(compressed(data, image_format)), photo.shape)
    assert mean_error(result, photo) <= (EXACT if extension == ".png" else SUBSAMPLED)


def test_compressed_rgb_holds_rgb_order(photo):
    """image_transport writes an rgb8 image into the file unconverted and says "compressed rgb8"."""
    data = cv2.imencode(".png", photo)[1]  # the RGB buffer handed to OpenCV as it is
    np.testing.assert_array_equal(compressed_image_to_rgb(compressed(data, "rgb8; png compressed rgb8")), photo)


def png_header(width: int, height: int) -> bytes:
    """The start of a PNG that claims ``width`` x ``height`` RGB pixels (and holds almost none)."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("data, image_format, reason", [
    (b"\xff\xd8 this is not a jpeg", "jpeg", "undecodable compressed data"),
    (png_header(100_000, 100_000), "png", "undecodable compressed data"),  # OpenCV raises on this one
    (png_header(20_000, 20_000), "png", "undecodable compressed data"),  # and returns None on this one
    (b"\x00\x00\x00\x00" * 10, "h264", "undecodable compressed data"),
    (b"", "jpeg", "empty image"),
    (b"\x00" * 12 + b"\x89PNG", "16UC1; compressedDepth png", "unsupported encoding"),
])
def test_bad_compressed_images_are_refused_with_a_reason(data, image_format, reason):
    with pytest.raises(ImageDecodeError) as error:
        message_to_rgb(compressed(data, image_format))
    assert error.value.reason == reason and "\n" not in str(error.value)


def test_encoder_round_trip(photo):
    fields = rgb_image_fields(photo)
    assert (fields["height"], fields["width"], fields["encoding"], fields["step"]) == (*photo.shape[:2], "rgb8",
                                                                                      photo.shape[1] * 3)
    msg = TYPESTORE.types["sensor_msgs/msg/Image"](
        header=default_message(TYPESTORE, "std_msgs/msg/Header"),
        **{**fields, "data": np.frombuffer(fields["data"], np.uint8)})
    raw = TYPESTORE.serialize_cdr(msg, "sensor_msgs/msg/Image")
    np.testing.assert_array_equal(image_to_rgb(TYPESTORE.deserialize_cdr(raw, "sensor_msgs/msg/Image")), photo)
    with pytest.raises(ValueError, match="uint8 RGB"):
        rgb_image_fields(photo.astype(np.float32))


def test_every_listed_encoding_decodes():
    for encoding in ENCODINGS:
        layout = image_decoding.LAYOUTS[encoding]
        rows = {"packed": 4, "nv420": 6, "nv444": 12}[layout.planes]
        msg = image(encoding, np.zeros((rows, 4 * layout.samples * layout.sample_bytes), np.uint8), width=4,
                    height=4)
        check_rgb(image_to_rgb(msg), (4, 4))


# --- Depth images (16UC1 millimetres, 32FC1 metres) ----------------------------------------------------------


@pytest.fixture(scope="module")
def depth_mm(photo):
    """Millimetres from 0.4 to 1.4 m shaped like the photo (every byte value occurs in both bytes), with
    holes (0) where the photo is darkest."""
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.uint16)
    return np.where(grey < 30, 0, 400 + grey * 4).astype(np.uint16)


@pytest.mark.parametrize("bigendian", [False, True])
def test_16uc1_depth_is_millimetres_with_holes_as_nan(depth_mm, bigendian):
    rows = depth_mm.astype(">u2" if bigendian else "<u2")
    msg = image("16UC1", rows, pad=PAD, bigendian=bigendian)
    metres = depth_image_to_metres(msg)
    assert metres.dtype == np.float32 and metres.shape == depth_mm.shape
    holes = depth_mm == 0
    assert holes.any() and np.isnan(metres[holes]).all()
    np.testing.assert_allclose(metres[~holes], depth_mm[~holes] / 1000.0, rtol=1e-6)


@pytest.mark.parametrize("bigendian", [False, True])
def test_32fc1_depth_is_metres_and_zero_nan_inf_are_holes(depth_mm, bigendian):
    metres_in = (depth_mm / 1000.0).astype(np.float32)
    metres_in[0, :3] = [np.nan, np.inf, -1.0]
    msg = image("16UC1", metres_in.astype(">f4" if bigendian else "<f4"), pad=PAD, bigendian=bigendian,
                width=depth_mm.shape[1])
    msg.encoding = "32FC1"
    metres = depth_image_to_metres(msg)
    valid = np.isfinite(metres_in) & (metres_in > 0)
    assert (~valid).sum() > 3 and np.isnan(metres[~valid]).all()
    np.testing.assert_array_equal(metres[valid], metres_in[valid])


@pytest.mark.parametrize("encoding", ["mono16", "16SC1", "32FC3", "64FC1", "8UC1", "rgb8", "compressedDepth"])
def test_other_depth_encodings_are_refused_with_a_reason(encoding):
    msg = image("16UC1", np.zeros((4, 4), np.uint16))
    msg.encoding = encoding
    with pytest.raises(ImageDecodeError, match=f"depth encoding '{encoding}' is not a depth image") as error:
        depth_image_to_metres(msg)
    assert error.value.reason == "unsupported encoding" and "16UC1" in str(error.value)


def test_compressed_depth_messages_are_refused():
    msg = default_message(TYPESTORE, "sensor_msgs/msg/CompressedImage")
    msg.format = "16UC1; compressedDepth png"
    with pytest.raises(ImageDecodeError, match="not CompressedImage") as error:
        depth_image_to_metres(msg)
    assert error.value.reason == "unsupported encoding"


@pytest.mark.parametrize("change, reason, message", [
    ({"step": 7}, "bad step", "step 7 is shorter than a row of 4 16UC1 pixels (8 bytes)"),
    ({"data": np.zeros(31, np.uint8)}, "short data", "needs 32 bytes of data, got 31"),
    ({"width": 0}, "empty image", "image is empty (0x4)"),
])
def test_inconsistent_depth_headers_are_refused_with_a_reason(change, reason, message):
    msg = image("16UC1", np.full((4, 4), 500, np.uint16))
    for field, value in change.items():
        setattr(msg, field, value)
    with pytest.raises(ImageDecodeError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        depth_image_to_metres(msg)
    assert error.value.reason == reason
