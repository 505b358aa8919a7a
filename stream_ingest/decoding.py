"""Turning a picked keyframe into the analysis picture as cheaply as the pixels allow.

Decoding the keyframe is most of what the ingest pays beyond receiving packets (about 3.3 ms of CPU for
a 720p keyframe here, against 0.2-0.3 ms for everything else about an analysed frame), so the analysis
has its own decoder that is fed nothing but the keyframes it analyses and skips H.264's deblocking
filter (about a quarter of an intra frame's decode). Deblocking smooths block edges that the 640 px
analysis picture averages away anyway: on the simulator's clips the picture differs from a fully
filtered decode by a PSNR of about 50 dB, far below anything a detector or a person can see. The
live view's decoder, which must decode every frame from references, keeps the filter.
"""

from __future__ import annotations

import av
import cv2
import numpy as np
from av.packet import Packet
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream

from stream_ingest.frames import Image

# Options of the analysis decoder (FFmpeg's AVCodecContext names).
ANALYSIS_DECODER_OPTIONS = {"skip_loop_filter": "all"}
# Colour matrices (FFmpeg's AVColorSpace numbers) that OpenCV's YUV conversion implements: BT.601, which
# is also what libswscale assumes for a stream that does not say.
_BT601 = {2, 5, 6}  # unspecified, BT.470BG, SMPTE 170M
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG: current FFmpeg tags full-range cameras so instead of yuvj420p


def analysis_decoder(stream_codec: VideoCodecContext) -> VideoCodecContext:
    """A decoder for the analysed keyframes of a stream decoded by ``stream_codec``: same codec and
    parameter sets, one thread (a keyframe every few seconds needs no more, and with 255 cameras
    FFmpeg's default of a thread per core per camera would start hundreds of idle threads), no
    deblocking."""
    codec = av.CodecContext.create(stream_codec.name, "r")
    assert isinstance(codec, VideoCodecContext)
    if stream_codec.extradata:
        codec.extradata = stream_codec.extradata  # SPS/PPS from the SDP: some cameras send them only there
    codec.thread_count = 1
    codec.options = dict(ANALYSIS_DECODER_OPTIONS)
    return codec


def decode_now(codec: VideoCodecContext, packet: Packet[VideoStream]) -> list[VideoFrame]:
    """Decode one keyframe packet and return its picture at once. A decoder that expects reordered
    frames (streams with B-frames) would hold the picture back until later packets arrive, which an
    analysis decoder fed only keyframes never gets: such a decoder is drained and reset, so the
    picture analysed is always the keyframe just received."""
    frames = codec.decode(packet)
    if not frames:
        frames = codec.decode(None)
        codec.flush_buffers()
    return frames


def analysis_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """The analysis picture's size: ``max_width`` wide at most, aspect kept, even dimensions."""
    if width <= max_width:
        return width, height
    return max_width, round(height * max_width / width / 2) * 2


class AnalysisPicture:
    """Converts decoded frames to BGR at the analysis size, reusing its buffers' set-up from frame to
    frame (one per camera; not shared between threads)."""

    def __init__(self, max_width: int = 640) -> None:
        self.max_width = max_width
        self._scaler = VideoReformatter()

    def convert(self, frame: VideoFrame) -> Image:
        """``frame`` as a contiguous BGR array at most ``max_width`` wide."""
        width, height = analysis_size(frame.width, frame.height, self.max_width)
        if _fast_path(frame, width, height):
            return _downscale_yuv420p(frame, width, height)
        # Other pixel formats (full-range yuvj420p, 4:2:2 cameras), BT.709-tagged streams and pictures
        # already small enough take libswscale: one thread, since every camera has its own already.
        image = self._scaler.reformat(frame, width=width, height=height, format="bgr24", threads=1)
        return np.ascontiguousarray(image.to_ndarray(), dtype=np.uint8)


def _fast_path(frame: VideoFrame, width: int, height: int) -> bool:
    """Whether ``_downscale_yuv420p`` gives the same colours libswscale would: limited-range 4:2:0 with
    the BT.601 matrix, shrunk to even dimensions."""
    return (
        frame.format.name == "yuv420p"
        and frame.color_range != _FULL_RANGE
        and frame.colorspace in _BT601
        and (width, height) != (frame.width, frame.height)
        and width % 2 == 0
        and height % 2 == 0
    )


def _plane(frame: VideoFrame, index: int, width: int, height: int) -> Image:
    """A view of one plane's pixels (the decoder pads its lines; the view skips the padding)."""
    plane = frame.planes[index]
    pixels = np.frombuffer(memoryview(plane), np.uint8)
    return pixels.reshape(-1, plane.line_size)[:height, :width]


def _downscale_yuv420p(frame: VideoFrame, width: int, height: int) -> Image:
    # Shrinking the three planes with a box filter and converting only the small picture costs about a
    # third of libswscale's bilinear scale-and-convert in one step (0.17 ms against 0.53 ms for 720p
    # to 640 px here), and a box filter is the better downscaler. cv2's I420 conversion assumes
    # limited range and BT.601, which ``_fast_path`` checks.
    buffer = np.empty((height * 3 // 2, width), np.uint8)
    flat = buffer.reshape(-1)
    luma, chroma = width * height, (width // 2) * (height // 2)
    targets = (
        flat[:luma].reshape(height, width),
        flat[luma : luma + chroma].reshape(height // 2, width // 2),
        flat[luma + chroma :].reshape(height // 2, width // 2),
    )
    for index, target in enumerate(targets):
        sub = 1 if index == 0 else 2
        source = _plane(frame, index, frame.width // sub, frame.height // sub)
        cv2.resize(source, (width // sub, height // sub), dst=target, interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.cvtColor(buffer, cv2.COLOR_YUV2BGR_I420), np.uint8)
