"""Gallery build, load, resume after a kill, import of release files, and bad input."""

import json

import numpy as np
import pytest
import torch

from cim.errors import InputError
from cim.gallery.build import BuildConfig, build_gallery
from cim.gallery.importer import import_release
from cim.gallery.items import read_items
from cim.gallery.manifest import GalleryManifest
from cim.gallery.store import Gallery
from tests.conftest import draw_item
from tests.image_files import truncated_png

CONFIG = BuildConfig(image_size=64, chunk_size=8, num_workers=0)


def test_built_gallery_is_self_describing(built_gallery, items_file):
    gallery = Gallery.load(built_gallery, verify=True)
    manifest = gallery.manifest
    assert manifest.count == len(gallery) == 24
    assert manifest.text_encoder.spec == "minilm" and manifest.text_encoder.dim == 384
    assert manifest.image_encoder.identity() == {"spec": "efficientnet-lite0", "dim": 1280, "pooling": "global", "image_size": 64}
    assert gallery.text_emb.dtype == np.float16 and gallery.text_emb.shape == (24, 384)
    assert gallery.image_emb.shape == (24, 1280)
    for array in (gallery.text_emb, gallery.image_emb):
        norms = np.linalg.norm(np.asarray(array, dtype=np.float32), axis=1)
        np.testing.assert_allclose(norms, 1.0, atol=2e-3)
    first = json.loads(items_file.read_text().splitlines()[0])
    assert gallery.ids[0] == first["id"] and gallery.captions[0] == first["caption"]
    assert not (built_gallery / ".build").exists()


def test_resume_after_a_kill_gives_identical_arrays(built_gallery, items_file, tmp_path):
    items = read_items(items_file)
    out = tmp_path / "resumed"

    def kill_after_two_chunks(done, total):
        if done >= 16:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_gallery(items, out, CONFIG, progress=kill_after_two_chunks)
    assert sorted(p.name for p in (out / ".build").glob("chunk-*")) == ["chunk-000000.npz", "chunk-000001.npz"]
    assert not (out / "manifest.json").exists()
    seen = []
    build_gallery(items, out, CONFIG, progress=lambda done, total: seen.append(done))
    assert seen[0] == 16  # the two saved chunks were not recomputed
    fresh, resumed = Gallery.load(built_gallery), Gallery.load(out)
    np.testing.assert_array_equal(fresh.text_emb, resumed.text_emb)
    np.testing.assert_array_equal(fresh.image_emb, resumed.image_emb)
    assert fresh.manifest.content_hash == resumed.manifest.content_hash


def test_resume_with_other_settings_is_refused(items_file, tmp_path):
    items = read_items(items_file)
    out = tmp_path / "g"
    with pytest.raises(KeyboardInterrupt):
        build_gallery(items, out, CONFIG, progress=lambda done, total: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(InputError, match="unfinished build with other items or settings"):
        build_gallery(items, out, BuildConfig(image_size=64, chunk_size=8, num_workers=0, pooling="grid2"))


def test_finished_gallery_is_not_overwritten(built_gallery, items_file):
    with pytest.raises(InputError, match="a finished gallery is already here"):
        build_gallery(read_items(items_file), built_gallery, CONFIG)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"id": "a", "caption": "x", "image": "img/red-circle-0.png"}\n{"id": "b", "caption": "y"\n', r"items.jsonl:2: malformed JSON"),
        (b'{"id": "a", "caption": "", "image": "img/red-circle-0.png"}\n', r"items.jsonl:1: field 'caption' must be a non-empty string"),
        (b'{"id": "a", "caption": "x", "image": "img/none.png"}\n', r"items.jsonl:1: image not found for id 'a'"),
        (b'{"id": "a", "caption": "x", "image": "img/red-circle-0.png"}\n{"id": "a", "caption": "y", "image": "img/red-circle-0.png"}\n', r"items.jsonl:2: duplicate id 'a' \(first on line 1\)"),
        (b'{"id": "a", "caption": "caf\xe9", "image": "img/red-circle-0.png"}\n', r"items.jsonl:1: not UTF-8"),
        (b"[1, 2]\n", r"items.jsonl:1: expected a JSON object"),
    ],
)
def test_bad_items_files(items_file, content, message):
    path = items_file.parent / "items.jsonl.bad"
    path.write_bytes(content)
    renamed = path.with_name("items.jsonl").with_suffix(".jsonl")
    bad = items_file.parent / "bad" / "items.jsonl"
    bad.parent.mkdir(exist_ok=True)
    (bad.parent / "img").mkdir(exist_ok=True)
    (bad.parent / "img" / "red-circle-0.png").write_bytes((items_file.parent / "img" / "red-circle-0.png").read_bytes())
    bad.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_items(bad)
    del renamed


def test_unreadable_image_names_item_and_keeps_finished_chunks(items_file, tmp_path):
    lines = items_file.read_text().splitlines()
    broken = tmp_path / "broken.png"
    broken.write_bytes(truncated_png(draw_item("red", "circle")))  # the header check passes; decoding fails
    row = json.loads(lines[20])
    row["image"] = str(broken)
    lines[20] = json.dumps(row)
    bad = items_file.parent / "one_broken.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "g"
    with pytest.raises(InputError, match=f"item {row['id']!r}.*unreadable image"):
        build_gallery(read_items(bad), out, CONFIG)
    assert len(list((out / ".build").glob("chunk-*"))) == 2  # rows 0-15 are kept


def _save(path, tensor):
    torch.save(tensor, path)
    return path


def test_import_release_files(tmp_path):
    rng = np.random.default_rng(0)
    text = torch.from_numpy(rng.standard_normal((30, 16)).astype(np.float32))
    image = torch.from_numpy(rng.standard_normal((30, 8)).astype(np.float32))
    captions = tmp_path / "captions.json"
    captions.write_text(json.dumps([f"caption {i}" for i in range(30)]))
    manifest = import_release(
        _save(tmp_path / "text.pt", text), _save(tmp_path / "image.pt", {"image_embeds": image}), captions, tmp_path / "g",
        text_encoder="sbert:some/model", image_encoder="openclip:ViT-H-14/laion2b_s32b_b79k",
    )
    assert isinstance(manifest, GalleryManifest) and manifest.count == 30
    gallery = Gallery.load(tmp_path / "g", verify=True)
    assert gallery.ids[:3] == ["0", "1", "2"] and gallery.captions[29] == "caption 29"
    expected = (image / image.norm(dim=1, keepdim=True)).numpy()
    np.testing.assert_allclose(np.asarray(gallery.image_emb, dtype=np.float32), expected, atol=1e-3)


def test_import_rejects_nan_and_mismatched_rows(tmp_path):
    captions = tmp_path / "captions.txt"
    captions.write_text("\n".join(f"c{i}" for i in range(10)))
    good = _save(tmp_path / "good.pt", torch.randn(10, 4))
    nan = torch.randn(10, 4)
    nan[3, 1] = float("nan")
    with pytest.raises(InputError, match=r"nan.pt: contains NaN or infinite values \(first at row 3\)"):
        import_release(_save(tmp_path / "nan.pt", nan), good, captions, tmp_path / "g1")
    with pytest.raises(InputError, match="mismatched row counts: 10 text embeddings .* 12 image embeddings"):
        import_release(good, _save(tmp_path / "twelve.pt", torch.randn(12, 4)), captions, tmp_path / "g2")
    with pytest.raises(InputError, match="missing.pt: embedding file not found"):
        import_release(tmp_path / "missing.pt", good, captions, tmp_path / "g3")


def test_loading_a_folder_that_is_not_a_gallery(tmp_path):
    with pytest.raises(InputError, match="not a gallery folder"):
        Gallery.load(tmp_path)


def test_corrupted_file_fails_verification(built_gallery, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(built_gallery, copy)
    data = bytearray((copy / "text_emb.npy").read_bytes())
    data[-1] ^= 0xFF
    (copy / "text_emb.npy").write_bytes(bytes(data))
    with pytest.raises(InputError, match="text_emb.npy does not match its checksum"):
        Gallery.load(copy, verify=True)


@pytest.mark.parametrize(("role", "key"), [("text_encoder", "max_tokens"), ("image_encoder", "pooling"), ("image_encoder", "image_size")])
def test_a_manifest_without_an_identity_key_is_refused_not_matched(built_gallery, tmp_path, role, key):
    import shutil

    copy = tmp_path / "gallery"
    shutil.copytree(built_gallery, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest[role][key]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=rf"manifest key '{role}.{key}': Field required"):
        Gallery.load(copy)


def test_every_identity_key_must_match(built_gallery):
    from cim.errors import EncoderMismatchError
    from cim.gallery.manifest import check_encoder

    expected = Gallery.load(built_gallery).manifest.image_encoder
    check_encoder("image", expected, expected.model_dump())
    for key, other in (("pooling", "grid2"), ("image_size", 128), ("dim", 5120)):
        with pytest.raises(EncoderMismatchError, match=f"{key}: gallery"):
            check_encoder("image", expected, expected.model_dump() | {key: other})
