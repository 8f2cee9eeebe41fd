"""The hub's one JPEG encoder for decoded frames.

Live views (`camhub.http.live`) and a clip's snapshot and thumbnail
(`camhub.recording.finisher`) both turn an analysed frame into a JPEG here,
with OpenCV, in whatever thread calls it (never on the event loop: a 720p
encode takes milliseconds).
"""

from __future__ import annotations

import av
import cv2
from cv2.typing import MatLike


def encode_jpeg(frame: av.VideoFrame, quality: int, width: int | None = None) -> bytes:
    """`frame` as a JPEG of `quality` (0-100), scaled to `width` pixels wide, keeping its shape, when given."""
    image: MatLike = frame.to_ndarray(format="bgr24")
    if width is not None:
        height = max(2, round(image.shape[0] * width / image.shape[1]))
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"JPEG encoding of a {frame.width}x{frame.height} frame failed")
    return buffer.tobytes()
