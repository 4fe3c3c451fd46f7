"""`cim encoder finetune` (issue 10, part 3b): the hard-negative generators, the held-out validation set, a tiny
resumable fine-tune of the bundled MiniLM, the re-embedded gallery, and the bad inputs refused before any work."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from typer.testing import CliRunner

from cim.adapt.negatives import (
    HELDOUT_PHRASES,
    converse_relations,
    find_relations,
    paraphrase,
    rephrase_relations,
    shuffle_sentences,
    shuffle_words,
    swap_attributes,
    swap_objects,
    swap_relations,
)
from cim.adapt.triplets import split_captions, training_triplets, validation_set
from cim.cli import app
from cim.gallery.items import shapes_items
from cim.shapes import read_facts

runner = CliRunner()
CAPTIONS = [item.caption for item in shapes_items(40)]
HELDOUT_WORDS = [phrase for phrases in HELDOUT_PHRASES.values() for phrase in phrases]


def flat(output: str) -> str:
    return " ".join(output.split())


# --- negative generators ------------------------------------------------------------------------------------


def test_relation_swap_reverses_the_arguments_and_keeps_the_case():
    assert swap_relations("The circle is left of the square.") == "The square is left of the circle."
    assert swap_relations("A dog sits to the left of a red car.") == "A red car sits to the left of a dog."
    assert swap_relations("an apple on top of a wooden table") == "a wooden table on top of an apple"
    text = "The star is above and right of the cross. The cross is below the disc."
    assert swap_relations(text, every=True) == "The cross is above and right of the star. The disc is below the cross."
    assert swap_relations(text, random.Random(0)) in {
        "The cross is above and right of the star. The cross is below the disc.",
        "The star is above and right of the cross. The disc is below the cross.",
    }


@pytest.mark.parametrize("text", ["The cat is next to the dog.", "The circle is not left of the square.", "Two cats on a sofa."])
def test_relation_swap_leaves_symmetric_negated_and_relation_free_captions_alone(text):
    assert swap_relations(text) is None


def test_converse_and_heldout_rephrasing():
    assert converse_relations("The circle is above and left of the square.") == "The square is below and right of the circle."
    rephrased = rephrase_relations("The circle is above and left of the square.", random.Random(0))
    assert rephrased.startswith("The circle is ") and rephrased.endswith(" it.")
    assert sum(phrase in rephrased for phrase in HELDOUT_WORDS) == 2
    # a held-out phrasing is one the training patterns do not even recognise
    for caption in CAPTIONS:
        assert not [r for r in find_relations(rephrase_relations(caption, random.Random(1))) if r.asymmetric]


def test_attribute_and_object_swaps():
    assert swap_attributes("a red circle and a blue square") == "a blue circle and a red square"
    assert swap_attributes("a red apple and an orange ball") == "an orange apple and a red ball"
    assert swap_attributes("a red circle and a red square") is None
    assert swap_objects("a red circle is left of a blue square") == "a red square is left of a blue circle"
    assert swap_objects("An apple and a pear.") is None  # nothing tells them apart: trading them says the same


def test_shuffles_keep_the_words():
    text = "There is a red circle. The circle is left of the square. The square is blue."
    shuffled = shuffle_sentences(text, random.Random(0))
    assert shuffled != text and sorted(shuffled.split()) == sorted(text.split())
    words = shuffle_words(text, random.Random(0))
    assert words != text and sorted(words.replace(".", "").split()) == sorted(text.replace(".", "").split())
    assert shuffle_sentences("One sentence only.") is None


@pytest.mark.parametrize("caption", CAPTIONS[:12])
def test_paraphrases_keep_the_facts_and_negatives_change_them(caption):
    """The shapes reader (an independent judge) reads the same scene from a paraphrase, another from a negative."""
    rng = random.Random(caption)
    facts = read_facts(caption)
    assert read_facts(paraphrase(caption, rng)) == facts
    assert read_facts(rephrase_relations(caption, rng)) == facts
    for negative in (swap_relations(caption, rng), swap_relations(caption, every=True), swap_attributes(caption, rng),
                     swap_objects(caption, rng)):  # fmt: skip
        if negative is not None:
            assert read_facts(negative) != facts, negative


def test_training_triplets_never_contain_a_heldout_phrasing_and_validation_always_does():
    train, held = split_captions(CAPTIONS, 0.25, 500, seed=0)
    assert not set(train) & set(held) and len(held) == 10 and len(train) == 30
    triplets, kinds = training_triplets(train, seed=0, per_caption=3)
    assert len(triplets) == 90 and set(kinds) <= {"relation", "attribute", "object", "words"} and kinds["relation"] > 0
    texts = [x for t in triplets for x in (t.anchor, t.positive, t.negative)]
    assert not [x for x in texts if any(phrase in x for phrase in HELDOUT_WORDS)]
    assert all(t.negative not in (t.anchor, t.positive) for t in triplets)
    data = validation_set(held, seed=1)
    assert len(data.twins) == 10 and len(data.triplets["relation"]) == 10 and data.triplets["attribute"]
    for triplet in data.triplets["relation"]:
        assert any(phrase in triplet.negative for phrase in HELDOUT_WORDS)
        words = [sorted(text.replace(".", " ").split()) for text in (triplet.positive, triplet.negative)]
        assert words[0] == words[1] and triplet.positive != triplet.negative  # the same words, other arguments
        assert triplet.anchor not in held


# --- the fine-tune ------------------------------------------------------------------------------------------

TINY = ["--max-steps", "4", "--save-steps", "2", "--batch-size", "4", "--max-seq-length", "48", "--val-fraction", "0.05",
        "--threads", "1"]


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def caption_gallery(tmp_path_factory):
    """220 real shapes captions with random embeddings: fine-tuning reads only the captions (no image work)."""
    from cim.gallery.store import write_gallery
    from cim.gallery.synthetic import random_unit_rows

    items, rng = shapes_items(220), np.random.default_rng(0)
    out = tmp_path_factory.mktemp("captions") / "gallery"
    write_gallery(out, [i.id for i in items], [i.caption for i in items], [i.image for i in items],
                  random_unit_rows(rng, len(items), 384), random_unit_rows(rng, len(items), 16),
                  {"spec": "minilm", "dim": 384, "max_tokens": 256},
                  {"spec": "efficientnet-lite0", "dim": 16, "pooling": "global", "image_size": 128}, {"kind": "test"})  # fmt: skip
    return out


@pytest.fixture(scope="module")
def finetuned(caption_gallery, tmp_path_factory):
    """A run killed after its checkpoint at step 2, then the same command again: it resumes to step 4.
    One torch thread: on 2 busy cores, two threads per process make each step ~10x slower."""
    import torch
    from transformers import TrainerCallback

    from cim.adapt.finetune import FinetuneConfig, finetune_encoder

    class KillAfterFirstCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            raise Killed(f"killed at step {state.global_step}")

    root = tmp_path_factory.mktemp("finetune")
    out, reembedded = root / "encoder", root / "reembedded"
    config = FinetuneConfig(max_steps=4, save_steps=2, batch_size=4, max_seq_length=48, val_fraction=0.05)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.raises(Killed, match="step 2"):
            finetune_encoder(caption_gallery, out, config, callbacks=[KillAfterFirstCheckpoint()])
        assert (out / "checkpoints" / "checkpoint-2").is_dir() and not (out / "validation.json").exists()
        args = ["encoder", "finetune", "--gallery", str(caption_gallery), "--out", str(out), *TINY, "--reembed", str(reembedded)]
        result = runner.invoke(app, args)
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, (result.output, result.exception)
    return out, reembedded, result.output, args


def test_the_killed_run_resumes_and_reports_before_and_after(finetuned):
    out, _, output, _ = finetuned
    record = json.loads((out / "validation.json").read_text())
    assert record["steps"] == 4 and record["resumed_from_step"] == 2
    assert not (out / "checkpoints").exists()
    assert record["max_seq_length"] == {"training": 48, "saved": 256}
    last = json.loads(output.strip().splitlines()[-1])
    assert last == record["headline"]
    for key in ("triplet_accuracy", "twin_cosine", "heldout_twin_cosine"):
        assert 0 <= last[f"{key}_before"] <= 1 and 0 <= last[f"{key}_after"] <= 1
    assert record["before"]["by_kind"]["relation"]["n"] == 11 and record["training_triplets"]["total"] == 209
    assert "triplet accuracy" in output


def test_the_output_is_an_ordinary_sentence_transformers_model(finetuned):
    from sentence_transformers import SentenceTransformer

    from cim.encoders import load_text_encoder

    out = finetuned[0]
    assert SentenceTransformer(str(out), device="cpu").max_seq_length == 256
    tuned, base = load_text_encoder(f"sbert:{out}", device="cpu"), load_text_encoder("minilm", device="cpu")
    assert (tuned.dim, tuned.max_tokens) == (384, 256)
    text = [CAPTIONS[0]]
    assert not np.allclose(tuned.encode(text).vectors.numpy(), base.encode(text).vectors.numpy(), atol=1e-4)


def test_the_reembedded_gallery_records_the_new_encoder(finetuned, caption_gallery):
    from cim.gallery.store import Gallery

    out, reembedded, _, _ = finetuned
    copy, original = Gallery.load(reembedded, verify=True), Gallery.load(caption_gallery)
    text = copy.manifest.text_encoder
    assert (text.spec, text.dim, text.max_tokens) == (f"sbert:{out.resolve()}", 384, 256)
    assert copy.manifest.source["from_content_hash"] == original.manifest.content_hash
    assert copy.ids == original.ids and np.array_equal(copy.image_emb, original.image_emb)
    assert not np.allclose(copy.text_emb, original.text_emb, atol=1e-3)


def test_a_gallery_build_records_the_finetuned_encoder(finetuned, tmp_path):
    out = finetuned[0]
    result = runner.invoke(app, ["gallery", "build", "--shapes", "2", "--out", str(tmp_path / "g"), "--text-encoder", f"sbert:{out}"])
    assert result.exit_code == 0, result.output
    text = json.loads((tmp_path / "g" / "manifest.json").read_text())["text_encoder"]
    assert (text["spec"], text["dim"], text["max_tokens"]) == (f"sbert:{out}", 384, 256)


def test_a_finished_run_is_not_overwritten(finetuned):
    result = runner.invoke(app, finetuned[3])
    assert result.exit_code == 2 and "already holds a finished fine-tuned model" in flat(result.output), result.output


# --- bad input, refused before any work ---------------------------------------------------------------------


def test_bad_inputs_are_named_before_work_starts(caption_gallery, built_gallery, tmp_path):
    from cim.gallery.synthetic import write_random_gallery

    plain = tmp_path / "plain-transformers"
    plain.mkdir()
    (plain / "config.json").write_text("{}")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "modules.json").write_text("[]")
    finished = tmp_path / "finished"
    finished.mkdir()
    (finished / "validation.json").write_text("{}")
    clip = tmp_path / "clip-gallery"
    write_random_gallery(clip, 4, {"spec": "hf-clip:some/clip", "dim": 8, "max_tokens": 77},
                         {"spec": "hf-clip:some/clip", "dim": 8, "pooling": "global", "image_size": 224})  # fmt: skip
    out = str(tmp_path / "out")
    cases = [
        (["--gallery", str(built_gallery), "--out", out], "8 distinct captions, fewer than --min-captions 200"),
        (["--gallery", str(caption_gallery), "--out", out, "--min-captions", "400"], "fewer than --min-captions 400"),
        (["--gallery", str(caption_gallery), "--out", str(finished)], "already holds a finished fine-tuned model"),
        (["--gallery", str(caption_gallery), "--out", str(foreign)], "holds a sentence-transformers model not made by"),
        (["--gallery", str(caption_gallery), "--out", out, "--base", f"sbert:{plain}"],
         f"{plain}: not a sentence-transformers model folder (no modules.json or config_sentence_transformers.json)"),
        (["--gallery", str(clip), "--out", out], "text encoder 'hf-clip:some/clip' cannot be fine-tuned"),
        (["--gallery", str(caption_gallery), "--out", out, "--batch-size", "0"], "batch_size must be a positive integer"),
        (["--gallery", str(tmp_path), "--out", out], "not a gallery folder"),
    ]  # fmt: skip
    for args, message in cases:
        result = runner.invoke(app, ["encoder", "finetune", *args])
        assert result.exit_code == 2 and result.output.startswith("error:"), (args, result.output, result.exception)
        assert message in flat(result.output), (args, result.output)
    assert not (tmp_path / "out").exists()
