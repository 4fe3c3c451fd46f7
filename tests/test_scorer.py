"""CIMScorer: official mode against an independent re-implementation, clean-mode exclusion, batching, errors."""

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from cim.encoders.sbert import bundled_minilm_path
from cim.errors import EncoderMismatchError, InputError, OptionError
from cim.gallery.store import Gallery
from cim.reward.options import ScorerOptions
from cim.reward.scorer import CIMScorer
from tests.conftest import draw_item

CAPTIONS = ["a red circle", "two blue squares", "a small green triangle above a star", "caption 17", "nothing at all"]


@lru_cache(maxsize=1)
def minilm() -> SentenceTransformer:
    return SentenceTransformer(bundled_minilm_path(), device="cpu")


def release_reward(caption: str, source_row: int, gallery: Gallery, k: int = 3, beta: float = 1.0):
    """Independent reference of the release's formula: text→text top-k, QIR + GRC over image vectors."""
    query = minilm().encode([caption], normalize_embeddings=True)[0].astype(np.float64)
    text = np.asarray(gallery.text_emb, dtype=np.float64)
    image = np.asarray(gallery.image_emb, dtype=np.float64)
    image /= np.linalg.norm(image, axis=1, keepdims=True)
    top = np.argsort(-(text @ query), kind="stable")[:k]
    source = image[source_row]
    qir = sum(0.5**r * float(image[row] @ source) for r, row in enumerate(top))
    grc = float(np.linalg.norm(image[top].mean(axis=0)))
    return grc + beta * qir, qir, grc, [gallery.ids[row] for row in top]


@pytest.fixture(scope="module")
def official(random_gallery):
    return CIMScorer(random_gallery, ScorerOptions(mode="official"), device="cpu")


def test_official_mode_matches_release_formula(official):
    gallery = official.gallery
    sources = ["item-0", "item-42", "item-199", "item-7", "item-100"]
    for beta in (1.0, 0.3):
        official.options = official.options.__class__(k=3, beta=beta, mode="official")
        results = official.score(CAPTIONS, sources)
        for caption, source, result in zip(CAPTIONS, sources, results):
            reward, qir, grc, ids = release_reward(caption, gallery.row(source), gallery, beta=beta)
            assert result.retrieved_ids == ids
            assert result.reward == pytest.approx(reward, abs=1e-5)
            assert result.qir == pytest.approx(qir, abs=1e-5)
            assert result.grc == pytest.approx(grc, abs=1e-5)


def test_clean_mode_never_retrieves_the_source(built_gallery):
    gallery = Gallery.load(built_gallery)
    clean = CIMScorer(gallery, ScorerOptions(mode="clean"), device="cpu")
    official = CIMScorer(gallery, ScorerOptions(mode="official"), device="cpu")
    # Each item's own caption: official mode retrieves the item itself, clean mode never does.
    clean_results = clean.score(gallery.captions, gallery.ids)
    official_results = official.score(gallery.captions, gallery.ids)
    assert all(item_id not in r.retrieved_ids for item_id, r in zip(gallery.ids, clean_results))
    assert sum(item_id in r.retrieved_ids for item_id, r in zip(gallery.ids, official_results)) == len(gallery)
    # Identical captions tie; ties come back in gallery row order.
    first = official_results[0]
    rows = [gallery.row(i) for i in first.retrieved_ids]
    assert rows == sorted(rows) and first.text_sims[0] == pytest.approx(first.text_sims[2], abs=1e-6)


def test_batched_equals_one_at_a_time(official):
    sources = ["item-3", "item-4", "item-5", "item-6", "item-8"]
    batched = official.score(CAPTIONS, sources)
    for caption, source, expected in zip(CAPTIONS, sources, batched):
        single = official.score([caption], [source])[0]
        assert single.retrieved_ids == expected.retrieved_ids
        assert single.reward == pytest.approx(expected.reward, abs=1e-5)


def test_truncation_is_counted(official):
    long_caption = " ".join(["a red circle left of a blue square"] * 60)  # far over 256 word pieces
    short, long = official.score(["a red circle", long_caption], ["item-1", "item-2"])
    assert not short.truncated and short.n_tokens == 5
    assert long.truncated and long.n_tokens > 256


def test_image_sources_path_and_pil_agree_and_are_cached(built_gallery, items_file):
    scorer = CIMScorer(built_gallery, device="cpu")
    path = items_file.parent / "img" / "red-circle-0.png"
    image = draw_item("red", "circle")
    by_path, by_pixels = scorer.score(["a red circle"] * 2, [path, image])
    assert by_path.qir == pytest.approx(by_pixels.qir, abs=1e-5)
    assert by_path.retrieved_ids == by_pixels.retrieved_ids
    # The file's embedding is the one the gallery stored (fp16) for that item.
    stored = np.asarray(scorer.gallery.image_emb[scorer.gallery.row("red-circle-0")], dtype=np.float32)
    assert float(scorer.sources.embed([path])[0].numpy() @ stored) == pytest.approx(1.0, abs=1e-3)
    assert len(scorer.sources._cache) == 2  # one entry for the file, one for the pixels
    scorer.score(["a blue square"], [draw_item("red", "circle")])  # same pixels, new object
    assert len(scorer.sources._cache) == 2


def test_center_images_option_changes_grc_consistently(random_gallery):
    plain = CIMScorer(random_gallery, device="cpu")
    centred = CIMScorer(random_gallery, ScorerOptions(center_images=True), device="cpu")
    a, b = plain.score(["a red circle"], ["item-9"])[0], centred.score(["a red circle"], ["item-9"])[0]
    assert a.retrieved_ids == b.retrieved_ids
    image = np.asarray(plain.gallery.image_emb, dtype=np.float64)
    mean = image.mean(axis=0)
    top = [plain.gallery.row(i) for i in b.retrieved_ids]
    vectors = image[top] - mean
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert b.grc == pytest.approx(float(np.linalg.norm(vectors.mean(axis=0))), abs=1e-4)


def test_bad_inputs_name_the_problem(random_gallery, official):
    with pytest.raises(InputError, match="unknown source id 'nope'"):
        official.score(["a caption"], ["nope"])
    with pytest.raises(InputError, match="caption 1 is empty"):
        official.score(["fine", "  "], ["item-1", "item-2"])
    with pytest.raises(InputError, match="k=200 is larger than the 199"):
        CIMScorer(random_gallery, ScorerOptions(k=200), device="cpu")
    with pytest.raises(InputError, match="official mode looks sources up by gallery id"):
        official.score(["a caption"], [Path("x.png")])
    with pytest.raises(OptionError, match="option 'mode': Input should be 'clean' or 'official'"):
        ScorerOptions.parse({"mode": "strict"})
    with pytest.raises(InputError, match="text→image retrieval needs one encoder"):
        CIMScorer(random_gallery, ScorerOptions(retrieval="image"), device="cpu")


def test_mismatched_encoder_is_an_error(built_gallery):
    from cim.encoders.registry import load_image_encoder

    grid = load_image_encoder("efficientnet-lite0", pooling="grid2", image_size=64, device="cpu")
    with pytest.raises(EncoderMismatchError, match="pooling: gallery 'global' vs given 'grid2'"):
        CIMScorer(built_gallery, image_encoder=grid, device="cpu")
