"""Batched, resumable gallery build; shards across processes launched by `accelerate launch` or torchrun.

Rows are cut into fixed chunks. Each chunk's embeddings are written atomically to OUT/.build/ as soon
as they exist, so a killed build resumes where it stopped with identical arrays; rank r of W embeds
chunks r, r+W, ...; rank 0 merges the chunks into the gallery and writes the manifest last.
Images are decoded or rendered in a data-loader worker while the main process encodes. Before anything is
written, every image's header is checked (format, pixel limit) and the encoders are loaded, so a bad item or
a misspelt encoder fails at once and leaves no plan behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from cim.encoders.base import ImageEncoder, TextEncoder, check_pooling
from cim.encoders.registry import (
    DEFAULT_IMAGE_ENCODER,
    DEFAULT_TEXT_ENCODER,
    load_image_encoder,
    load_text_encoder,
)
from cim.errors import InputError, OptionError, check_positive
from cim.gallery.items import GalleryItem, find_bad_images, open_image
from cim.gallery.manifest import MANIFEST, GalleryManifest
from cim.gallery.store import write_gallery
from cim.images import pixel_limit
from cim.io import atomic_write, write_json

BUILD_DIR = ".build"
Progress = Callable[[int, int], None]
# Config fields that may differ between a build and its resume (the items they select are in the plan's digest).
RUNTIME_FIELDS = ("device", "num_workers", "skip_bad_items", "max_image_pixels")


@dataclass(frozen=True)
class BuildConfig:
    """What a gallery is embedded with; stored in the build plan and (via encoders) the manifest."""

    text_encoder: str = DEFAULT_TEXT_ENCODER
    image_encoder: str = DEFAULT_IMAGE_ENCODER
    pooling: str = "global"
    image_size: int | None = None
    chunk_size: int = 256
    image_batch_size: int = 32
    text_batch_size: int = 16
    device: str | None = None
    num_workers: int = 1
    skip_bad_items: bool = False  # leave out items whose image fails the header check (listed in the manifest)
    max_image_pixels: int | None = None  # Pillow's pixel limit during the build (None: Pillow's default)

    def __post_init__(self) -> None:
        for name in ("chunk_size", "image_batch_size", "text_batch_size"):
            check_positive(name, getattr(self, name))
        if self.num_workers < 0:
            raise OptionError(f"num_workers must be 0 or more, got {self.num_workers!r}")
        if self.max_image_pixels is not None:
            check_positive("max_image_pixels", self.max_image_pixels)
        check_pooling(self.pooling)


class _ImageDataset(Dataset):
    """Decodes (or renders) and preprocesses one item's image; runs in worker processes.

    A bad image comes back as its error message (data, not an exception), so the main process can raise
    one clear InputError instead of the data loader's re-raised worker traceback.
    """

    def __init__(self, items: Sequence[GalleryItem], encoder: ImageEncoder, render_size: int) -> None:
        self.items = items
        self.preprocess = encoder.preprocess
        self.render_size = render_size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | str]:
        item = self.items[index]
        try:
            return index, self.preprocess(open_image(item.image, self.render_size))
        except InputError as error:
            return index, f"item {item.id!r}: {error}"


def _init_worker(max_image_pixels: int | None, _: int) -> None:
    """A data-loader worker: one thread, and the build's pixel limit (workers may not inherit it)."""
    torch.set_num_threads(1)
    if max_image_pixels is not None:
        Image.MAX_IMAGE_PIXELS = max_image_pixels


def _collate_chunk(batch: list[tuple[int, torch.Tensor | str]]) -> tuple[int, torch.Tensor | list[str]]:
    """A chunk's first row index and its stacked pixels, or the error messages of its bad images."""
    errors = [value for _, value in batch if isinstance(value, str)]
    if errors:
        return batch[0][0], errors
    return batch[0][0], torch.stack([pixels for _, pixels in batch])


def _bad_images_message(bad: list[tuple[GalleryItem, str]], total: int) -> str:
    listed = "\n".join(f"  item {item.id!r}: {reason}" for item, reason in bad)
    skip = " (--skip-bad-items would leave no item)" if len(bad) == total else (
        ", or build with --skip-bad-items to leave them out")
    return (
        f"{len(bad)} of {total} items have images that cannot be used; fix or remove them{skip}; "
        f"--max-image-pixels N raises the pixel limit for trusted files:\n{listed}"
    )


def _usable_items(
    items: Sequence[GalleryItem], config: BuildConfig, source: dict[str, Any]
) -> tuple[Sequence[GalleryItem], dict[str, Any]]:
    """Items whose images pass the header check, and the manifest source (listing skipped items); or raise."""
    bad = find_bad_images(items)
    if bad and (not config.skip_bad_items or len(bad) == len(items)):
        raise InputError(_bad_images_message(bad, len(items)))
    if not config.skip_bad_items:
        return items, source
    skipped = {item.id for item, _ in bad}
    listed = [{"id": item.id, "image": item.image, "reason": reason} for item, reason in bad]
    return [item for item in items if item.id not in skipped], {**source, "skipped": listed}


def _items_digest(items: Sequence[GalleryItem]) -> str:
    digest = hashlib.sha256()
    for item in items:
        digest.update(f"{item.id}\t{item.caption}\t{item.image}\n".encode())
    return digest.hexdigest()


class _Ranks:
    """This process's rank and the world size, from the launcher's environment."""

    def __init__(self) -> None:
        self.state = None
        self.rank, self.world = 0, 1
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            from accelerate import PartialState

            self.state = PartialState(cpu=not torch.cuda.is_available())  # gloo on CPU-only machines
            self.rank, self.world = self.state.process_index, self.state.num_processes

    def barrier(self) -> None:
        if self.state is not None:
            self.state.wait_for_everyone()


def build_gallery(
    items: Sequence[GalleryItem],
    out: str | Path,
    config: BuildConfig = BuildConfig(),
    source: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> GalleryManifest | None:
    """Embed `items` into a gallery at `out`; returns the manifest on rank 0, None on other ranks.

    Raises InputError naming every item whose image fails the header check, unless config.skip_bad_items
    leaves them out (they are listed in the manifest's source["skipped"]).
    """
    with pixel_limit(config.max_image_pixels):
        return _build(items, Path(out), config, source or {}, progress)


def _build(
    items: Sequence[GalleryItem], out: Path, config: BuildConfig, source: dict[str, Any], progress: Progress | None
) -> GalleryManifest | None:
    if not items:
        raise InputError("no items to build a gallery from")
    if (out / MANIFEST).is_file():
        raise InputError("a finished gallery is already here; choose another --out or delete it", source=str(out))
    items, source = _usable_items(items, config, source)
    text_encoder = load_text_encoder(config.text_encoder, device=config.device)
    image_encoder = load_image_encoder(config.image_encoder, config.pooling, config.image_size, config.device)
    ranks = _Ranks()
    build_dir = out / BUILD_DIR
    settings = {key: value for key, value in asdict(config).items() if key not in RUNTIME_FIELDS}
    plan = {"config": settings, "count": len(items), "items_sha256": _items_digest(items)}
    if ranks.rank == 0:
        _check_or_write_plan(build_dir, plan)
    ranks.barrier()

    n_chunks = (len(items) + config.chunk_size - 1) // config.chunk_size
    mine = [c for c in range(ranks.rank, n_chunks, ranks.world)]
    pending = [c for c in mine if not _chunk_path(build_dir, c).is_file()]
    total = sum(_chunk_rows(c, config.chunk_size, len(items)) for c in mine)
    done = total - sum(_chunk_rows(c, config.chunk_size, len(items)) for c in pending)
    if progress:
        progress(done, total)
    render_size = int(getattr(image_encoder, "image_size", None) or 128)
    loader = DataLoader(
        _ImageDataset(items, image_encoder, render_size),
        batch_sampler=[list(_chunk_range(c, config.chunk_size, len(items))) for c in pending],
        num_workers=config.num_workers,
        worker_init_fn=partial(_init_worker, config.max_image_pixels) if config.num_workers else None,
        collate_fn=_collate_chunk,
    )
    for chunk, (first, pixels) in zip(pending, loader, strict=True):
        rows = _chunk_range(chunk, config.chunk_size, len(items))
        if first != rows.start:
            raise RuntimeError(f"data loader returned rows out of order at chunk {chunk}")
        if isinstance(pixels, list):
            raise InputError(f"could not decode {len(pixels)} image{'s' if len(pixels) > 1 else ''} "
                             "(the chunks before are kept; fix the files and rerun to resume):\n  " + "\n  ".join(pixels))
        text = text_encoder.encode([items[i].caption for i in rows], config.text_batch_size).vectors
        image = torch.cat([image_encoder.embed(part) for part in pixels.split(config.image_batch_size)])
        _save_chunk(build_dir, chunk, text, image)
        done += len(rows)
        if progress:
            progress(done, total)
    ranks.barrier()
    if ranks.rank != 0:
        return None
    manifest = _merge(items, out, build_dir, n_chunks, text_encoder, image_encoder, source)
    shutil.rmtree(build_dir)
    return manifest


def _check_or_write_plan(build_dir: Path, plan: dict[str, Any]) -> None:
    plan_path = build_dir / "plan.json"
    if plan_path.is_file():
        existing = json.loads(plan_path.read_text())
        if existing != json.loads(json.dumps(plan)):
            raise InputError(
                "an unfinished build with other items or settings is here; "
                f"delete {build_dir} to start over, or use the same items and options to resume",
                source=str(build_dir.parent),
            )
        return
    write_json(plan_path, plan)


def _chunk_range(chunk: int, size: int, count: int) -> range:
    return range(chunk * size, min((chunk + 1) * size, count))


def _chunk_rows(chunk: int, size: int, count: int) -> int:
    return len(_chunk_range(chunk, size, count))


def _chunk_path(build_dir: Path, chunk: int) -> Path:
    return build_dir / f"chunk-{chunk:06d}.npz"


def _save_chunk(build_dir: Path, chunk: int, text: torch.Tensor, image: torch.Tensor) -> None:
    with atomic_write(_chunk_path(build_dir, chunk), "wb") as stream:
        np.savez(stream, text=text.numpy().astype(np.float16), image=image.numpy().astype(np.float16))


def _merge(
    items: Sequence[GalleryItem],
    out: Path,
    build_dir: Path,
    n_chunks: int,
    text_encoder: TextEncoder,
    image_encoder: ImageEncoder,
    source: dict[str, Any],
) -> GalleryManifest:
    texts, images = [], []
    for chunk in range(n_chunks):
        path = _chunk_path(build_dir, chunk)
        if not path.is_file():
            raise InputError(f"chunk {chunk} is missing; rerun the build to finish it", source=str(build_dir))
        with np.load(path) as arrays:
            texts.append(arrays["text"])
            images.append(arrays["image"])
    return write_gallery(
        out,
        [item.id for item in items],
        [item.caption for item in items],
        [item.image for item in items],
        np.concatenate(texts),
        np.concatenate(images),
        text_encoder.describe(),
        image_encoder.describe(),
        source,
    )
