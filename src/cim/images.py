"""Opening images that come from users: an allow-list of formats, Pillow's pixel limit, one RGB conversion.

Every image a user hands to cim (gallery items, caption rows, server requests, TRL sources, report
thumbnails, encoder inputs) goes through `open_image` / `read_header` and `to_rgb`, so a file is refused,
or decoded, the same way everywhere. Only ALLOWED_FORMATS are tried: Pillow never hands a file to another
plugin (EPS would run Ghostscript). An image whose header declares more than `PIL.Image.MAX_IMAGE_PIXELS`
pixels is refused before its pixels are decoded; `pixel_limit` raises the limit for trusted files.

`to_rgb` turns any mode into 8-bit RGB:
- 16-bit greyscale (I;16, I;16B, I;16L) is scaled to 8 bits (v / 257 rounded, so 65535 → 255 and
  257·g → g); 32-bit integer (I), as older Pillows open 16-bit PNGs, is read on the same 0..65535 scale,
  values outside clipped;
- float (F) is read as 0..1 and scaled to 0..255 (rounded), values outside clipped;
- anything with transparency (RGBA, LA, PA, a palette or colour key with a transparent entry) is composited
  on white (BACKGROUND);
- every other mode (1, L, P, CMYK, YCbCr, RGBX, ...) uses Pillow's own conversion.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from cim.errors import InputError

# Pillow's format ids; JPEG also opens multi-picture JPEGs (MPO, most phone photos) as Pillow's JPEG opener does.
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
BACKGROUND = (255, 255, 255)
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")

ImageInput = str | Path | bytes


def _where(reference: ImageInput, where: str | None) -> str:
    if where is not None:
        return where
    return f"image bytes ({len(reference)} bytes)" if isinstance(reference, bytes) else str(reference)


def _open(reference: ImageInput, where: str) -> Image.Image:
    """Open an image lazily (header only) within the format allow-list and the pixel limit."""
    stream = io.BytesIO(reference) if isinstance(reference, bytes) else reference
    limit = Image.MAX_IMAGE_PIXELS
    try:
        image = Image.open(stream, formats=ALLOWED_FORMATS)
    except FileNotFoundError as error:
        raise InputError("image not found", source=where) from error
    except Image.DecompressionBombError:  # Pillow refuses above twice its limit, before returning the size
        raise InputError(f"image has more than {2 * limit:,} pixels, over the pixel limit of {limit:,} "
                         "(a possible decompression bomb)", source=where) from None
    except UnidentifiedImageError:
        raise InputError(f"unreadable image: not a {', '.join(ALLOWED_FORMATS)} file (the formats cim opens)",
                         source=where) from None
    except Exception as error:  # noqa: BLE001 - PIL raises many types (OSError, SyntaxError, struct.error …) on bad files
        raise InputError(f"unreadable image: {type(error).__name__}: {error}", source=where) from error
    width, height = image.size
    if limit is not None and width * height > limit:
        image.close()
        raise InputError(f"image is {width}×{height} pixels, over the pixel limit of {limit:,} "
                         "(a possible decompression bomb)", source=where)
    return image


def read_header(reference: ImageInput, where: str | None = None) -> tuple[str, tuple[int, int]]:
    """An image file's format and (width, height), without decoding pixels; InputError if it would be refused."""
    with _open(reference, _where(reference, where)) as image:
        return str(image.format), image.size


def open_image(reference: ImageInput, where: str | None = None) -> Image.Image:
    """Decode an image file (path or bytes) to 8-bit RGB; InputError naming `where` (default: the file)."""
    where = _where(reference, where)
    with _open(reference, where) as image:
        try:
            image.load()
            rgb = to_rgb(image)
            return rgb.copy() if rgb is image else rgb  # closing `image` frees its pixels
        except Exception as error:  # noqa: BLE001 - truncated or corrupt data fails in the decoder with many types
            raise InputError(f"unreadable image: {type(error).__name__}: {error}", source=where) from error


def _to_eight_bit(image: Image.Image) -> Image.Image:
    """High-bit-depth greyscale (I;16*, I, F) → L, scaled by the mode's range (see the module docstring)."""
    if image.mode == "F":
        return image.point(lambda v: v * 255 + 0.5).convert("L")  # + 0.5: round, as convert truncates
    if image.mode != "I":
        image = image.convert("I")
    return image.point(lambda v: v / 257 + 0.5).convert("L")


def to_rgb(image: Image.Image) -> Image.Image:
    """`image` (any mode) as 8-bit RGB, itself when it already is; transparency is composited on BACKGROUND."""
    if image.mode == "RGB" and not image.has_transparency_data:
        return image
    if image.mode in ("I", "F", *SIXTEEN_BIT_MODES):
        image = _to_eight_bit(image)
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (*BACKGROUND, 255)), rgba).convert("RGB")
    return image.convert("RGB")


@contextmanager
def pixel_limit(pixels: int | None) -> Iterator[None]:
    """Within the block Pillow's MAX_IMAGE_PIXELS is `pixels` (None: unchanged); restored after.

    The limit is process-wide: use this for a build over trusted files, not around a server's requests.
    """
    if pixels is not None and pixels < 1:
        raise InputError(f"max_image_pixels must be a positive number of pixels, got {pixels}")
    previous = Image.MAX_IMAGE_PIXELS
    if pixels is not None:
        Image.MAX_IMAGE_PIXELS = pixels
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous
