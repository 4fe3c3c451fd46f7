"""Helpers of the image tests: tiny files that declare huge sizes, EPS files, high-bit-depth pictures."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\nnewpath 0 0 moveto 10 10 lineto stroke\nshowpage\n%%EOF\n"


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A ~70-byte PNG whose header says width × height pixels (IHDR patched, CRC fixed)."""
    data = bytearray(png_bytes(Image.new("L", (1, 1))))
    # 8-byte signature, then the IHDR chunk: length (4), type (4), data (13: width, height, ...), CRC (4).
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def grey_picture(size: int = 64) -> np.ndarray:
    """An 8-bit greyscale picture using every grey level: a gradient with a dark square."""
    picture = (np.arange(size * size) % 256).reshape(size, size).astype(np.uint8)
    picture[size // 4 : size // 2, size // 4 : size // 2] = 20
    return picture


def sixteen_bit(picture: np.ndarray) -> Image.Image:
    """The same picture as a 16-bit greyscale image (v · 257: 255 → 65535)."""
    return Image.fromarray(picture.astype(np.uint16) * 257)


def truncated_png(image: Image.Image) -> bytes:
    """A PNG cut inside its pixel data: the header reads, decoding fails."""
    data = png_bytes(image)
    return data[: len(data) // 2]
