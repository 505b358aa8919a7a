"""The analysis decoder and picture conversion on H.264 generated in the test: the picture analysed is the
keyframe just received (also for streams with B-frames), it matches a full decode to the eye, and every
pixel format and size comes out as BGR at the analysis width."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
import cv2
import numpy as np
import pytest
from av.packet import Packet
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from stream_ingest.decoding import AnalysisPicture, analysis_decoder, analysis_size, decode_now


def picture(i: int, width: int, height: int) -> np.ndarray:
    """Frame ``i``: a smooth coloured scene (as a camera sees one) whose brightness says which frame it is."""
    coarse = np.random.default_rng(7).integers(0, 40, (9, 16, 3), dtype=np.uint8)
    scene = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    return np.clip(scene + 20 + 5 * i, 0, 255).astype(np.uint8)


# Saturated colours (BGR) in a 4 x 2 grid: where colour conversions differ most.
BLOCKS = [
    ((x / 4, y / 2), colour)
    for (x, y), colour in zip(
        [(x, y) for y in range(2) for x in range(4)],
        [
            (0, 0, 220),
            (0, 200, 0),
            (220, 0, 0),
            (0, 220, 220),
            (220, 0, 220),
            (220, 220, 0),
            (30, 30, 30),
            (235, 235, 235),
        ],
        strict=True,
    )
]


def colour_blocks(width: int, height: int) -> np.ndarray:
    """A test card of saturated colour blocks."""
    image = np.zeros((height, width, 3), np.uint8)
    for (x, y), colour in BLOCKS:
        image[int(y * height) : int((y + 0.5) * height), int(x * width) : int((x + 0.25) * width)] = colour
    return image


def encode(
    frames: int, *, width: int = 320, height: int = 240, gop: int = 5, b_frames: int = 0
) -> tuple[VideoCodecContext, list[Packet[VideoStream]]]:
    """An H.264 stream as a camera would send it, plus a decoder context describing it."""
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base, encoder.framerate = Fraction(1, 10), Fraction(10)
    encoder.gop_size, encoder.max_b_frames = gop, b_frames
    encoder.options = {
        "keyint_min": str(gop),
        "sc_threshold": "0",
        "preset": "ultrafast",
        "tune": "zerolatency",
    }
    if b_frames:
        encoder.options = {**encoder.options, "tune": "film", "bframes": str(b_frames)}
    packets: list[Packet[VideoStream]] = []
    for i in range(frames):
        frame = VideoFrame.from_ndarray(picture(i, width, height), format="bgr24").reformat(format="yuv420p")
        frame.pts = i
        packets.extend(encoder.encode(frame))
    packets.extend(encoder.encode(None))
    decoder = av.CodecContext.create("h264", "r")
    assert isinstance(decoder, VideoCodecContext)
    decoder.extradata = encoder.extradata
    return decoder, packets


def closest(image: np.ndarray, frames: int) -> int:
    """Which of the first ``frames`` pictures ``image`` shows."""
    height, width = image.shape[:2]
    originals = [cv2.resize(picture(i, width, height), (width, height)) for i in range(frames)]
    return int(np.argmin([np.mean((image.astype(np.float32) - o) ** 2) for o in originals]))


@pytest.mark.parametrize("b_frames", [0, 2])
def test_the_analysed_picture_is_the_keyframe_just_received(b_frames: int) -> None:
    stream, packets = encode(40, gop=5, b_frames=b_frames)
    keys = [p for p in packets if p.is_keyframe]
    assert len(keys) >= 7
    decoder = analysis_decoder(stream)
    picture_of = AnalysisPicture()
    for key in keys:
        frames = decode_now(decoder, key)  # only keyframes, as the worker feeds it
        assert len(frames) == 1
        assert frames[0].pts == key.pts  # this keyframe's picture, not one held back from before
        image = picture_of.convert(frames[0])
        assert closest(image, 40) == key.pts  # and the pixels agree


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two pictures in dB."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * float(np.log10(255**2 / mse))


def test_analysis_decode_without_deblocking_matches_a_full_decode() -> None:
    stream, packets = encode(12, width=1280, height=720, gop=6)
    full = av.CodecContext.create("h264", "r")
    assert isinstance(full, VideoCodecContext)
    full.extradata = stream.extradata
    decoder = analysis_decoder(stream)
    convert = AnalysisPicture(640).convert
    for key in (p for p in packets if p.is_keyframe):
        ours = convert(decode_now(decoder, key)[0])
        reference = convert(full.decode(key)[0])
        assert ours.shape == (360, 640, 3)
        assert psnr(ours, reference) > 40  # invisible; a detector sees the same picture


@pytest.mark.parametrize(
    ("size", "pix_fmt", "tags", "expected"),
    [
        ((1280, 720), "yuv420p", {}, (640, 360)),  # the fast path: planes shrunk, then converted
        ((1280, 720), "yuvj420p", {}, (640, 360)),  # full range: libswscale
        ((1280, 720), "yuv420p", {"dst_color_range": 2}, (640, 360)),  # full range, as FFmpeg 8 tags it
        ((1280, 720), "yuv420p", {"dst_colorspace": "ITU709"}, (640, 360)),  # HD colours
        ((640, 360), "yuv420p", {}, (640, 360)),  # already small: converted only
        ((704, 576), "yuv420p", {}, (640, 524)),  # D1 PAL, not a multiple of 640
        ((1920, 1080), "yuv422p", {}, (640, 360)),
    ],
)
def test_conversion_to_the_analysis_picture(
    size: tuple[int, int], pix_fmt: str, tags: dict[str, Any], expected: tuple[int, int]
) -> None:
    width, height = size
    bgr = colour_blocks(width, height)
    frame = VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format=pix_fmt, **tags)
    if "dst_colorspace" in tags:
        frame.colorspace = 1  # tagged BT.709, as a camera's decoder reports it
    image = AnalysisPicture(640).convert(frame)
    assert (image.shape[1], image.shape[0]) == expected == analysis_size(width, height, 640)
    assert image.dtype == np.uint8 and image.flags.c_contiguous
    # Compared with a plain resize of the original: the same picture, colours included.
    reference = cv2.resize(bgr, expected, interpolation=cv2.INTER_AREA)
    assert psnr(image, reference) > 30
    # Each block keeps its colour: a wrong matrix (BT.601 for BT.709) or range shifts them by 10-34.
    for (x, y), _ in BLOCKS:
        box = np.s_[int(y * image.shape[0]) + 8 : int((y + 0.5) * image.shape[0]) - 8,
                    int(x * image.shape[1]) + 8 : int((x + 0.25) * image.shape[1]) - 8]  # fmt: skip
        shift = image[box].reshape(-1, 3).mean(axis=0) - reference[box].reshape(-1, 3).mean(axis=0)
        assert np.abs(shift).max() < 6  # rounding alone: up to 4
