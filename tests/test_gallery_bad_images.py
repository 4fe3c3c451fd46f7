"""`cim gallery build` with bad images: every bad item reported at once before anything is encoded or planned,
--skip-bad-items, --max-image-pixels, decode failures as one clear message, and no plan left by a bad encoder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from cim.cli import app
from cim.errors import InputError, OptionError
from cim.gallery.build import BuildConfig, build_gallery
from cim.gallery.items import read_items
from cim.gallery.manifest import GalleryManifest
from cim.gallery.store import Gallery
from tests.conftest import draw_item
from tests.image_files import EPS, bomb_png, truncated_png

CONFIG = BuildConfig(image_size=64, chunk_size=8, num_workers=0)
BUILD = ["--image-size", "64", "--chunk-size", "8", "--device", "cpu"]
runner = CliRunner()


def write_items(folder: Path, bad: dict[str, bytes], good: int = 3) -> Path:
    """An items JSONL with `good` drawn pictures followed by the `bad` files (id → file bytes)."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(good):
        draw_item(("red", "blue", "green", "yellow")[i % 4], "circle").save(folder / "img" / f"good-{i}.png")
        lines.append({"id": f"good-{i}", "caption": f"picture {i}", "image": f"img/good-{i}.png"})
    for item_id, data in bad.items():
        (folder / "img" / item_id).write_bytes(data)
        lines.append({"id": item_id, "caption": "a bad picture", "image": f"img/{item_id}"})
    path = folder / "items.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture()
def bad_items(tmp_path) -> Path:
    return write_items(tmp_path / "items", {"bomb.png": bomb_png(), "pic.eps": EPS, "empty.png": b"", "text.png": b"hello"})


def test_every_bad_item_is_reported_before_anything_is_written(bad_items, tmp_path):
    out = tmp_path / "g"
    with pytest.raises(InputError) as caught:
        build_gallery(read_items(bad_items), out, CONFIG)
    message = str(caught.value)
    assert "4 of 7 items have images that cannot be used" in message and "--skip-bad-items" in message
    for item_id, reason in [("bomb.png", "image has more than 178,956,970 pixels"), ("pic.eps", "unreadable image: not a PNG"),
                            ("empty.png", "unreadable image"), ("text.png", "unreadable image")]:
        assert f"item {item_id!r}: {bad_items.parent / 'img' / item_id}: {reason}" in message
    assert not out.exists()  # no plan, no chunk


def test_skip_bad_items_leaves_them_out_and_lists_them_in_the_manifest(bad_items, tmp_path):
    out = tmp_path / "g"
    result = runner.invoke(app, ["gallery", "build", "--items", str(bad_items), "--out", str(out), "--skip-bad-items",
                                   "--workers", "0", *BUILD])
    assert result.exit_code == 0, result.output
    gallery = Gallery.load(out, verify=True)
    assert gallery.ids == ["good-0", "good-1", "good-2"]
    manifest = GalleryManifest.read(out)
    skipped = manifest.source["skipped"]
    assert [entry["id"] for entry in skipped] == ["bomb.png", "pic.eps", "empty.png", "text.png"]
    assert skipped[0]["image"].endswith("bomb.png") and "over the pixel limit" in skipped[0]["reason"]
    assert manifest.source["kind"] == "items"
    only_bad = write_items(tmp_path / "only-bad", {"empty.png": b""}, good=0)
    result = runner.invoke(app, ["gallery", "build", "--items", str(only_bad), "--out", str(tmp_path / "g2"),
                                   "--skip-bad-items", *BUILD])
    assert result.exit_code == 2 and "--skip-bad-items would leave no item" in result.output


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_max_image_pixels_sets_the_limit_for_one_build_only(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)  # as if Pillow's limit were below the 64×64 pictures
    items = read_items(write_items(tmp_path / "items", {}))
    with pytest.raises(InputError, match=r"(?s)3 of 3 items .*good-0.*64×64 pixels, over the pixel limit of 3,000"):
        build_gallery(items, tmp_path / "refused", CONFIG)
    manifest = build_gallery(items, tmp_path / "g", BuildConfig(image_size=64, num_workers=1, max_image_pixels=5000))
    assert manifest is not None and manifest.count == 3
    assert Image.MAX_IMAGE_PIXELS == 3000  # restored after the build
    with pytest.raises(OptionError, match="max_image_pixels must be a positive integer, got 0"):
        BuildConfig(max_image_pixels=0)


def test_a_typo_in_an_encoder_leaves_no_plan_behind(tmp_path):
    items = write_items(tmp_path / "items", {})
    out = tmp_path / "g"
    args = ["gallery", "build", "--items", str(items), "--out", str(out), "--workers", "0", *BUILD]
    refused = runner.invoke(app, [*args, "--text-encoder", "nosuch"])
    assert refused.exit_code == 2 and "unknown text encoder 'nosuch'" in refused.output
    assert not (out / ".build").exists()
    fixed = runner.invoke(app, args)
    assert fixed.exit_code == 0, fixed.output
    assert Gallery.load(out).ids == ["good-0", "good-1", "good-2"]


def test_an_image_that_fails_to_decode_in_a_worker_is_one_clear_message(tmp_path):
    picture = draw_item("red", "square")
    items = write_items(tmp_path / "items", {"cut.png": truncated_png(picture)})
    command = [sys.executable, "-m", "cim.cli", "gallery", "build", "--items", str(items), "--out", str(tmp_path / "g"),
               "--workers", "1", *BUILD]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)
    assert result.returncode == 2, result.stderr
    assert "could not decode 1 image " in result.stderr and "item 'cut.png'" in result.stderr
    assert "cut.png: unreadable image" in result.stderr
    for noise in ("Traceback", "DataLoader worker"):
        assert noise not in result.stderr
