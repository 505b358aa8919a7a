"""On-site photos: checked by content (not by file name or the Content-Type a phone claims), stored once
under the data dir by content hash.

A photo must be a JPEG, PNG or WebP image that Pillow can open and verify, at most
:data:`MAX_PHOTO_BYTES` and :data:`MAX_PIXELS`; anything else is refused with the reason.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

MAX_PHOTO_BYTES = 15 * 1024 * 1024
"""A phone camera's JPEG is 2-8 MB; a 200 MB upload is not a photo."""
MAX_PIXELS = 64_000_000
"""Larger than any phone camera; a small file claiming more is a decompression bomb."""
MAX_PHOTOS_PER_TASK = 20

_FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}
_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"))


class PhotoError(ValueError):
    """The upload is not an acceptable photo; the message says why. Views: 413 for size, else 415/422."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


@dataclass(frozen=True)
class CheckedPhoto:
    """A photo that passed the checks."""

    data: bytes
    sha256: str
    content_type: str
    extension: str
    width: int
    height: int


def sniff(data: bytes) -> str | None:
    """The image format the first bytes announce (JPEG, PNG, WEBP), or None."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def check(data: bytes) -> CheckedPhoto:
    """Check that ``data`` is one acceptable photo; raise :class:`PhotoError` naming the problem."""
    if not data:
        raise PhotoError("the upload is empty: send the photo's bytes")
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoError(f"photo is {len(data)} bytes; the limit is {MAX_PHOTO_BYTES} bytes", too_large=True)
    announced = sniff(data)
    if announced is None:
        raise PhotoError("not a photo: the content is not a JPEG, PNG or WebP image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height, found = image.width, image.height, image.format
                if width * height > MAX_PIXELS:
                    raise PhotoError(f"{width}x{height} pixels is more than {MAX_PIXELS} pixels")
                image.verify()
    except PhotoError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise PhotoError(f"not a readable {announced} image: {exc}") from exc
    except Image.DecompressionBombWarning as exc:
        raise PhotoError(f"image too large in pixels: {exc}") from exc
    if found not in _FORMATS:
        raise PhotoError(f"{found} images are not accepted; send JPEG, PNG or WebP")
    content_type, extension = _FORMATS[found]
    digest = hashlib.sha256(data).hexdigest()
    return CheckedPhoto(data, digest, content_type, extension, width, height)


class PhotoStore:
    """Photos by content hash under ``root`` (``<root>/<ab>/<sha256>.<ext>``); written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str, extension: str) -> Path:
        """Where the photo with this hash lives."""
        return self.root / sha256[:2] / f"{sha256}{extension}"

    def save(self, photo: CheckedPhoto) -> Path:
        """Store ``photo`` unless an identical one is there already; returns its path."""
        target = self.path(photo.sha256, photo.extension)
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(photo.data)
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target


def extension_of(content_type: str) -> str:
    """The file extension stored photos of ``content_type`` have."""
    for known, extension in _FORMATS.values():
        if known == content_type:
            return extension
    raise ValueError(f"unknown photo type {content_type}")
