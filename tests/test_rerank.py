"""Relation-aware retrieval (issue 10, part 3a): re-ranking a cosine shortlist by ordered fact-tuple F1.

Options and their errors; "none" is today's scorer bit for bit; the re-rank step itself (weight 0, ties,
reported cosines, lazy gallery extraction); the relation-twin test on shapes galleries; fact extractors:
the shapes reader on free English, the FACTUAL output parser on messy strings, and the FACTUAL loader on
a tiny random-init T5 built here from a config (its numbers mean nothing; the plumbing is what is tested).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cim.errors import InputError, OptionError
from cim.reward.extractors import FactExtractor, check_extractor_spec, load_extractor, tuple_f1
from cim.reward.extractors.factual_format import PROMPT, parse_factual
from cim.reward.options import ScorerOptions
from cim.reward.scorer import CIMScorer
from cim.shapes import Facts, render_scene, scene_from_id, split_scenes, swap_relations, write_caption

DATA = Path(__file__).parent / "data"
N_VAL = 100


# --- options ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rerank": "spice"}, "option 'rerank': unknown re-ranker 'spice'; valid: none, tuples"),
        ({"extractor": "spacy"}, "option 'extractor': unknown fact extractor 'spacy'; valid: shapes, factual:<hf id or folder>"),
        ({"extractor": "factual"}, "option 'extractor': fact extractor 'factual' needs a model: 'factual:<hf id or folder>'"),
        ({"extractor": "shapes:x"}, "option 'extractor': fact extractor 'shapes' takes no argument"),
        ({"rerank": "tuples", "shortlist": 29}, "shortlist=29 is below 10·k=30 (k=3)"),
        ({"k": 5, "shortlist": 30}, "shortlist=30 is below 10·k=50 (k=5)"),
        ({"rerank_weight": 1.5}, "option 'rerank_weight': Input should be less than or equal to 1"),
        ({"shortlist": -1}, "option 'shortlist': Input should be greater than or equal to 0"),
    ],
)
def test_bad_rerank_options_name_the_option_and_the_valid_values(values, message):
    with pytest.raises(OptionError) as error:
        ScorerOptions.parse(values)
    assert message in str(error.value)


def test_rerank_option_defaults_keep_todays_behaviour():
    options = ScorerOptions()
    assert (options.rerank, options.shortlist, options.rerank_weight, options.extractor) == ("none", 0, 0.5, "shapes")
    assert ScorerOptions.parse({"k": 2, "shortlist": 20, "rerank": "tuples", "rerank_weight": 1}).shortlist == 20
    assert check_extractor_spec("factual:some/folder") == "factual:some/folder"


# --- the scorer ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain(shapes_gallery):
    return CIMScorer(shapes_gallery, device="cpu")


def rerank_scorer(plain: CIMScorer, given: FactExtractor | None = None, **options) -> CIMScorer:
    """A scorer over plain's gallery sharing its text encoder (one MiniLM load per module); `given` extractor."""
    return CIMScorer(plain.gallery, ScorerOptions(**options), text_encoder=plain.text_encoder, extractor=given, device="cpu")


CAPTIONS = [
    "There are 3 shapes: a small red circle, a large blue square and a green star. The circle is left of the square.",
    "A yellow triangle above a purple cross.",
    "something that names no shape at all",
]


def test_none_is_bit_identical_to_todays_scorer(plain, shapes_gallery):
    # Re-ranking knobs are inert under rerank="none": no extractor is loaded (this folder does not exist).
    inert = rerank_scorer(plain, rerank="none", shortlist=200, rerank_weight=0.9, extractor="factual:/no/such/folder")
    assert inert.reranker is None and plain.reranker is None
    sources = ["shapes-gallery-00003", "shapes-gallery-00010", render_scene(split_scenes("val", 1)[0], size=128)]
    today, now = plain.score(CAPTIONS, sources), inert.score(CAPTIONS, sources)
    assert [r.model_dump() for r in now] == [r.model_dump() for r in today]
    # ... and it is the plain top-k of one search.
    scores, rows = plain.index.search(plain.encode(CAPTIONS).vectors, 3, plain._resolve_sources(sources)[1])
    assert [r.retrieved_ids for r in today] == [[plain.gallery.ids[i] for i in row] for row in rows.tolist()]
    assert [r.text_sims for r in today] == scores.tolist()


def test_weight_zero_reranks_into_the_cosine_order(plain):
    cosine_only = rerank_scorer(plain, rerank="tuples", rerank_weight=0.0)
    sources = ["shapes-gallery-00001", "shapes-gallery-00002", "shapes-gallery-00005"]
    expected, got = plain.score(CAPTIONS, sources), cosine_only.score(CAPTIONS, sources)
    assert [r.retrieved_ids for r in got] == [r.retrieved_ids for r in expected]
    assert [r.reward for r in got] == [r.reward for r in expected]


class CountingExtractor:
    """Wraps an extractor (or returns empty sets) and records every text it was asked for."""

    def __init__(self, inner: FactExtractor | None = None, spec: str = "shapes") -> None:
        self.inner, self.spec, self.calls = inner, spec, []

    def extract(self, texts):
        self.calls.append(list(texts))
        return self.inner.extract(texts) if self.inner else [frozenset() for _ in texts]


def test_ties_go_to_the_lower_row_and_text_sims_stay_cosines(plain):
    # Empty tuples everywhere and w = 1: every candidate is equally relevant, so the k lowest shortlisted rows win.
    scorer = rerank_scorer(plain, CountingExtractor(), rerank="tuples", rerank_weight=1.0)
    text = plain.encode(CAPTIONS[:2])
    exclude = plain._resolve_sources(["shapes-gallery-00000", "shapes-gallery-00007"])[1]
    _, shortlist = plain.index.search(text.vectors, 30, exclude)
    results = scorer.score(CAPTIONS[:2], ["shapes-gallery-00000", "shapes-gallery-00007"])
    emb = np.asarray(plain.gallery.text_emb, dtype=np.float32)
    for result, rows, query in zip(results, shortlist.tolist(), text.vectors.numpy()):
        chosen = [plain.gallery.row(i) for i in result.retrieved_ids]
        assert chosen == sorted(rows)[:3]
        assert result.text_sims == pytest.approx([float(emb[r] @ query) for r in chosen], abs=1e-5)


def test_gallery_tuples_are_extracted_lazily_once_and_the_source_stays_out(plain):
    counting = CountingExtractor(load_extractor("shapes"))
    scorer = rerank_scorer(plain, counting, rerank="tuples")
    assert counting.calls == []  # nothing extracted at construction
    sources = ["shapes-gallery-00004", "shapes-gallery-00009"]
    captions = [plain.gallery.captions[4], plain.gallery.captions[9]]  # each item's own caption: clean mode excludes it
    first = scorer.score(captions, sources)
    assert all(s not in r.retrieved_ids for s, r in zip(sources, first))
    gallery_rows = len(scorer.reranker.facts)
    assert 30 <= gallery_rows <= 60 < len(plain.gallery)  # only the two shortlists were read
    calls = len(counting.calls)
    again = scorer.score(captions, sources)
    assert [r.model_dump() for r in again] == [r.model_dump() for r in first]
    assert counting.calls[calls:] == [captions]  # only the queries: the gallery rows were memoised
    assert len(scorer.reranker.facts) == gallery_rows
    with pytest.raises(InputError, match="re-ranking needs the captions' texts"):
        scorer.score_encoded(scorer.encode(captions), sources)
    with pytest.raises(OptionError, match="the extractor given is 'factual:x'"):
        rerank_scorer(plain, CountingExtractor(spec="factual:x"), rerank="tuples")


# --- the relation-twin test -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twins():
    """N_VAL val scenes with at least one relation: (scenes, complete captions, relation-swapped twins, images)."""
    scenes = [s for s in split_scenes("val", N_VAL) if s.facts().relations]
    correct = [write_caption(s.facts(), order=s.shapes) for s in scenes]
    swapped = [write_caption(swap_relations(s.facts()), order=s.shapes) for s in scenes]
    return scenes, correct, swapped, [render_scene(s, size=128) for s in scenes]


def relation_agreement(scenes, results) -> float:
    """Mean share of the retrieved scenes' relations (between shapes of the source) that hold in the source."""
    shares = []
    for scene, result in zip(scenes, results):
        truth = scene.facts().relations
        for item in result.retrieved_ids:
            common = {r for r in scene_from_id(item).facts().relations if r[0] in scene.shapes and r[2] in scene.shapes}
            if common:
                shares.append(len(common & truth) / len(common))
    return float(np.mean(shares))


def twin_duel(scorer, twins) -> dict[str, float]:
    scenes, correct, swapped, images = twins
    right, wrong = scorer.score(correct, images), scorer.score(swapped, images)
    gap = np.array([a.reward - b.reward for a, b in zip(right, wrong)])
    return {
        "wins": float(np.mean(gap > 0)),
        "losses": float(np.mean(gap < 0)),
        "gap": float(gap.mean()),
        "same_top_k": float(np.mean([a.retrieved_ids == b.retrieved_ids for a, b in zip(right, wrong)])),
        "agree_correct": relation_agreement(scenes, right),
        "agree_swapped": relation_agreement(scenes, wrong),
    }


def test_relation_twins_retrieve_apart_only_with_tuples(plain, twins):
    # 300-scene gallery (global pooling), 100 val scenes. Measured: none retrieves the same top-3 for 61% of
    # twins and the retrieved scenes' relations agree with the source equally (0.414 vs 0.415); tuples: 2%
    # same top-3, agreement 0.589 for the correct caption vs 0.254 for its twin.
    none, tuples = twin_duel(plain, twins), twin_duel(rerank_scorer(plain, rerank="tuples"), twins)
    assert none["same_top_k"] > 0.4 and abs(none["agree_correct"] - none["agree_swapped"]) < 0.05, none
    assert tuples["same_top_k"] < 0.1, tuples
    assert tuples["agree_correct"] - tuples["agree_swapped"] > 0.2, tuples
    assert tuples["agree_correct"] > none["agree_correct"] + 0.1, (none, tuples)


@pytest.fixture(scope="module")
def grid2_gallery(tmp_path_factory) -> Path:
    """shapes_gallery's 300 scenes with grid2 image pooling: an image space that sees layout."""
    from cim.gallery.build import BuildConfig, build_gallery
    from cim.gallery.items import shapes_items

    out = tmp_path_factory.mktemp("shapes-grid2") / "gallery"
    build_gallery(shapes_items(300), out, BuildConfig(image_size=128, pooling="grid2", num_workers=0))
    return out


def test_relation_twins_the_reward_tells_apart_with_tuples(grid2_gallery, plain, twins):
    # With a layout-aware image space (grid2), the reward follows the retrieval. Measured (300 scenes, 100 val
    # scenes): none: the correct caption wins 16% of pairs, loses 23%, mean gap +0.0004; tuples: wins 80%,
    # loses 18%, mean gap +0.130 (s.e. 0.016). With global pooling the retrieval separates the twins as above
    # but the reward barely moves (wins 47% / losses 51%, gap +0.007): the image encoder cannot see the swap.
    base = CIMScorer(grid2_gallery, text_encoder=plain.text_encoder, device="cpu")
    tuples = CIMScorer(grid2_gallery, ScorerOptions(rerank="tuples"), text_encoder=plain.text_encoder, device="cpu")
    none, ranked = twin_duel(base, twins), twin_duel(tuples, twins)
    assert ranked["wins"] > none["wins"] + 0.4 and ranked["wins"] > 2 * ranked["losses"], (none, ranked)
    assert ranked["gap"] > 0.08 and abs(none["gap"]) < 0.02, (none, ranked)


# --- extractors -------------------------------------------------------------------------------------------


def test_tuple_f1_counts_ordered_tuples_and_empty_sets_score_zero():
    a = frozenset({("object", "circle"), ("object", "square"), ("relation", "circle", "left of", "square")})
    b = frozenset({("object", "circle"), ("object", "square"), ("relation", "square", "left of", "circle")})
    assert tuple_f1(a, a) == 1.0
    assert tuple_f1(a, b) == pytest.approx(2 * 2 / 6)
    assert tuple_f1(a, frozenset()) == tuple_f1(frozenset(), a) == tuple_f1(frozenset(), frozenset()) == 0.0


def test_the_shapes_extractor_reads_free_english_into_ordered_tuples():
    rows = [json.loads(line) for line in (DATA / "paraphrases.jsonl").read_text().splitlines()]
    seen, chosen = set(), []
    for row in rows:  # the first held-out caption of each writer: eight styles, none of them our grammar
        if row["part"] == "heldout" and row["writer"] not in seen:
            seen.add(row["writer"])
            chosen.append(row)
    assert len(chosen) >= 5
    extracted = load_extractor("shapes").extract([row["caption"] for row in chosen])
    for row, tuples in zip(chosen, extracted):
        truth = Facts.build(row["objects"], map(tuple, row["attributes"]), map(tuple, row["relations"])).tagged()
        assert tuple_f1(truth, tuples) >= 0.9, (row["id"], sorted(truth ^ tuples))
        assert any(t[0] == "relation" for t in tuples) == bool(row["relations"])
    scene = split_scenes("val", 1)[0]
    caption, twin = load_extractor("shapes").extract([write_caption(scene.facts()), write_caption(swap_relations(scene.facts()))])
    assert {t for t in caption if t[0] != "relation"} == {t for t in twin if t[0] != "relation"} and caption != twin


@pytest.mark.parametrize(
    ("text", "truncated", "expected"),
    [
        ("( man , ride , horse ) , ( horse , is , brown )", False,
         {("object", "man"), ("object", "horse"), ("relation", "man", "ride", "horse"), ("attribute", "horse", "brown")}),
        ("(Man,Ride,Horse),(horse ,  is,BROWN)", False,
         {("object", "man"), ("object", "horse"), ("relation", "man", "ride", "horse"), ("attribute", "horse", "brown")}),
        ("man , ride , horse ) , ( horse , is , brown", False,  # brackets missing at both ends
         {("object", "man"), ("object", "horse"), ("relation", "man", "ride", "horse"), ("attribute", "horse", "brown")}),
        ("( man , ride , horse ) , ( man , ride , horse ) , ( man , ride , horse )", False,
         {("object", "man"), ("object", "horse"), ("relation", "man", "ride", "horse")}),
        ("( pole )", False, {("object", "pole")}),
        ("( scooters ) , ( bed spread ,  on ,  bed )", False,
         {("object", "scooters"), ("object", "bed spread"), ("object", "bed"), ("relation", "bed spread", "on", "bed")}),
        ("( boys , is , 2 ) , ( boys , is , little ) , ( boys , eat , meal )", False,
         {("object", "boys"), ("object", "meal"), ("attribute", "boys", "2"), ("attribute", "boys", "little"),
          ("relation", "boys", "eat", "meal")}),
        ("( man , ride , horse ) , ( horse , is , bro", True,  # cut at the token limit: the unfinished fact is dropped
         {("object", "man"), ("object", "horse"), ("relation", "man", "ride", "horse")}),
        ("( man , ride , horse ) , ( dog", True, {("object", "man"), ("object", "horse"), ("relation", "man", "ride", "horse"), ("object", "dog")}),
        ("( man , ride , horse )", True, {("object", "man"), ("object", "horse"), ("relation", "man", "ride", "horse")}),
        ("Generate Scene Graph: ( sign , is , orange )", False, {("object", "sign"), ("attribute", "sign", "orange")}),
        ("( man:1 , v:ride , horse:2 ) , ( horse:2 , is , brown )", False,  # FACTUAL-ID node markers
         {("object", "man"), ("object", "horse"), ("relation", "man", "ride", "horse"), ("attribute", "horse", "brown")}),
        ("( horse , is ) , ( a , b , c , d )", False, {("object", "horse"), ("object", "a")}),
        ("( , is , red ) , ( ) , , (", False, set()),
        ("( a , b , c ) , d , e , f )", False,  # a missing opening bracket in the middle
         {("object", "a"), ("object", "c"), ("relation", "a", "b", "c"), ("object", "d"), ("object", "f"), ("relation", "d", "e", "f")}),
        ("", False, set()),
    ],
)  # fmt: skip
def test_the_factual_parser_reads_messy_output(text, truncated, expected):
    assert parse_factual(text, truncated) == frozenset(expected)


PAIRS = [
    ("a small red circle left of a square.", "( circle , is , red ) , ( circle , is , small ) , ( circle , left of , square )"),
    ("the star is above the cross.", "( star , above , cross )"),
]


@pytest.fixture(scope="module")
def tiny_factual(tmp_path_factory) -> Path:
    """A 1-layer, d_model-32 T5 with a word-level tokenizer, fitted to PAIRS so its greedy output is known."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    words = sorted({w for a, b in PAIRS for w, _ in pre_tokenizers.Whitespace().pre_tokenize_str((PROMPT + a + " " + b).lower())})
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(words)}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    config = T5Config(
        vocab_size=len(vocab), d_model=32, d_kv=8, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=4,
        relative_attention_num_buckets=8, dropout_rate=0.0, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(config)
    inputs = tokenizer([PROMPT + a for a, _ in PAIRS], padding=True, return_tensors="pt")
    labels = tokenizer([b for _, b in PAIRS], padding=True, return_tensors="pt")["input_ids"]
    labels[labels == 0] = -100
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        loss = model(**inputs, labels=labels).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    folder = tmp_path_factory.mktemp("tiny-factual")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_the_factual_extractor_loads_a_folder_batches_decodes_and_parses(tiny_factual):
    extractor = load_extractor(f"factual:{tiny_factual}", device="cpu")
    assert extractor.spec == f"factual:{tiny_factual}"
    expected = [parse_factual(b) for _, b in PAIRS]
    assert expected[0] == {("object", "circle"), ("object", "square"), ("attribute", "circle", "red"),
                           ("attribute", "circle", "small"), ("relation", "circle", "left of", "square")}  # fmt: skip
    # One call, sentences of different lengths padded into one batch; the third caption has both sentences.
    texts = [PAIRS[0][0], PAIRS[1][0], f"{PAIRS[0][0]} {PAIRS[1][0]}"]
    assert extractor.extract(texts) == [expected[0], expected[1], expected[0] | expected[1]]
    extractor.batch_size = 1
    assert extractor.extract(texts[:2]) == expected[:2]
    # Cut at 6 new tokens: "( circle , is , red" is flagged as truncated and only its subject is kept.
    extractor.max_new_tokens = 6
    (text, truncated), = extractor.generate([PAIRS[0][0]])
    assert truncated and text.replace(" ", "") == "(circle,is,red"
    assert extractor.extract([PAIRS[0][0]]) == [frozenset({("object", "circle")})]
    assert extractor.extract([]) == [] and extractor.extract(["   "]) == [frozenset()]


def test_a_scorer_reranks_with_a_factual_extractor(tiny_factual, plain):
    options = ScorerOptions(rerank="tuples", extractor=f"factual:{tiny_factual}")
    scorer = CIMScorer(plain.gallery, options, text_encoder=plain.text_encoder, device="cpu")
    (result,) = scorer.score([PAIRS[0][0]], ["shapes-gallery-00000"])
    assert len(result.retrieved_ids) == 3 and "shapes-gallery-00000" not in result.retrieved_ids
    assert len(scorer.reranker.facts) == 30
