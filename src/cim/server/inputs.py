"""Check request items against the limits and turn them into scorer sources, before they reach a batch.

Every problem is a RequestError with the HTTP status and a message that names the item and the limit.
Inline images are decoded here (cim.images: allowed formats only), with a size and pixel limit; image paths
are honoured only inside the server's image root, and their headers are checked here against the same
limits. Nothing in this module unpickles or evaluates request data.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from PIL import Image

from cim import images
from cim.errors import InputError
from cim.gallery.store import Gallery
from cim.reward.sources import Source
from cim.server.settings import ServeSettings
from cim.wire.schemas import ScoreItem


class RequestError(Exception):
    """A request the server refuses: HTTP status and a message for the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_count(n: int, settings: ServeSettings) -> None:
    if n > settings.max_items:
        raise RequestError(413, f"{n} items in one request; the server's limit is max_items={settings.max_items}")


def check_k(k: int | None, settings: ServeSettings) -> int:
    """The request's k (the server's when None), refused above max_k."""
    k = settings.reward.k if k is None else k
    if k > settings.max_k:
        raise RequestError(422, f"k={k} is above the server's limit max_k={settings.max_k}")
    return k


def check_caption(caption: str, where: str, settings: ServeSettings) -> None:
    if len(caption) > settings.max_caption_chars:
        raise RequestError(
            422, f"{where}: caption has {len(caption)} characters; the limit is max_caption_chars={settings.max_caption_chars}"
        )
    if not caption.strip():
        raise RequestError(422, f"{where}: caption is empty")
    try:
        caption.encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate from a JSON \ud800 escape
        raise RequestError(422, f"{where}: caption is not valid Unicode ({error.reason} at {error.start})") from None


def row_source(row: int, gallery: Gallery, where: str) -> str:
    """The gallery id at a row (the release's `index`)."""
    if not 0 <= row < len(gallery):
        raise RequestError(422, f"{where}: unknown index {row}: the gallery has rows 0..{len(gallery) - 1}")
    return gallery.ids[row]


def id_source(item_id: str, gallery: Gallery, where: str) -> str:
    if item_id not in gallery:
        raise RequestError(422, f"{where}: unknown source_id {item_id!r}: not in the gallery")
    return item_id


def label_source(label: str | int, gallery: Gallery, where: str) -> str:
    """A source given as a gallery id (str) or a gallery row (int)."""
    return row_source(label, gallery, where) if isinstance(label, int) else id_source(label, gallery, where)


def decode_image(data: str, where: str, settings: ServeSettings) -> Image.Image:
    """A base64 image file → RGB PIL image, within max_image_bytes and max_image_pixels."""
    if len(data) * 3 // 4 > settings.max_image_bytes + 2:
        raise RequestError(
            413, f"{where}: inline image is over the server's limit max_image_bytes={settings.max_image_bytes}"
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise RequestError(422, f"{where}: image_b64 is not valid base64 ({error})") from None
    if len(raw) > settings.max_image_bytes:
        raise RequestError(
            413, f"{where}: inline image is {len(raw)} bytes; the limit is max_image_bytes={settings.max_image_bytes}"
        )
    try:
        check_pixels(images.read_header(raw, "image_b64")[1], where, settings)
        return images.open_image(raw, "image_b64")
    except InputError as error:
        reason = str(error).removeprefix("image_b64: ")
        raise RequestError(422, f"{where}: image_b64 is not a readable image ({reason})") from None


def check_pixels(size: tuple[int, int], where: str, settings: ServeSettings) -> None:
    """Refuse an image whose header declares more than max_image_pixels."""
    width, height = size
    if width * height > settings.max_image_pixels:
        raise RequestError(
            422, f"{where}: image is {width}×{height} pixels; the limit is max_image_pixels={settings.max_image_pixels}"
        )


def path_source(path: str, where: str, settings: ServeSettings) -> Path:
    """An image file named by the request, only inside the image root (symlinks resolved first)."""
    if settings.image_root is None:
        raise RequestError(422, f"{where}: image paths are disabled; start the server with --image-root DIR to allow them")
    root = Path(settings.image_root).resolve()
    try:
        resolved = (root / path).resolve()
    except (OSError, ValueError, RuntimeError) as error:  # a NUL byte; a symlink loop (RuntimeError before 3.13)
        raise RequestError(422, f"{where}: image_path cannot be resolved ({error})") from None
    if not resolved.is_relative_to(root):
        raise RequestError(422, f"{where}: image_path is outside the server's image root")
    if not resolved.is_file():
        raise RequestError(422, f"{where}: image_path {path!r} is not a file under the image root")
    try:
        check_pixels(images.read_header(resolved, f"image_path {path!r}")[1], where, settings)
    except InputError as error:
        raise RequestError(422, f"{where}: {error}") from None
    return resolved


def item_source(item: ScoreItem, where: str, gallery: Gallery, settings: ServeSettings) -> Source:
    """Validate one item (caption and source) and return what the scorer takes as its source."""
    check_caption(item.caption, where, settings)
    if item.source_id is not None:
        return id_source(item.source_id, gallery, where)
    if item.index is not None:
        return row_source(item.index, gallery, where)
    if settings.reward.mode == "official":
        raise RequestError(422, f"{where}: official mode looks sources up in the gallery; give source_id or index")
    if item.image_b64 is not None:
        return decode_image(item.image_b64, where, settings)
    return path_source(item.image_path or "", where, settings)
