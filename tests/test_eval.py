"""`cim eval`: bootstrap statistics, self-retrieval rank, text statistics, shapes metrics, bad caption files."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cim.cli import app
from cim.errors import InputError
from cim.eval.bootstrap import bootstrap_interval, paired_bootstrap
from cim.eval.evaluate import evaluate, to_markdown
from cim.eval.text_stats import repetition_rate
from cim.index.rank import rank_of_rows
from cim.reward.scorer import CIMScorer
from cim.shapes import export_split
from tests.conftest import unit_rows


def test_bootstrap_interval_and_paired_test():
    rng = np.random.default_rng(0)
    values = rng.normal(1.0, 1.0, 400)
    interval = bootstrap_interval(values)
    assert interval.low < values.mean() < interval.high
    assert interval.high - interval.low == pytest.approx(2 * 1.96 / 20, rel=0.2)  # ≈ ±1.96·σ/√n
    shifted = paired_bootstrap(values, values + 0.3 + rng.normal(0, 0.1, 400))
    assert shifted.significant and shifted.p_value < 0.01 and shifted.low > 0.25
    noise = paired_bootstrap(values, values + rng.normal(0, 0.1, 400))
    assert not noise.significant and noise.low < 0 < noise.high


def test_repetition_rate():
    assert repetition_rate("there are 2 shapes there are 2 shapes") == pytest.approx(1 / 5)
    assert repetition_rate("a red circle is left of a blue square") == 0.0
    assert repetition_rate("a red circle") == 0.0


def test_rank_of_rows_matches_a_full_sort():
    rng = np.random.default_rng(1)
    matrix = unit_rows(rng, 500, 16)
    matrix[10] = matrix[3]  # a tie: row 3 comes first
    queries = torch.from_numpy(np.stack([matrix[3], matrix[10], unit_rows(rng, 1, 16)[0]]))
    rows = [10, 3, 77]
    ranks = rank_of_rows(matrix, queries, rows, chunk_rows=64)
    for q, row, rank in zip(queries.numpy(), rows, ranks):
        order = sorted(range(500), key=lambda r: (-float(matrix[r] @ q), r))
        assert rank == order.index(row) + 1
    assert ranks[0] == 2 and ranks[1] == 1


@pytest.fixture(scope="module")
def level_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("levels")
    return {level: export_split("test", level, folder / level, n=80) for level in ("complete", "one-object")}


def test_complete_vs_one_object_is_significant(shapes_gallery, level_files):
    scorer = CIMScorer(shapes_gallery, device="cpu")
    result = evaluate([level_files["complete"], level_files["one-object"]], scorer, split="test", resamples=1000)
    complete = result.files[str(level_files["complete"])]
    assert complete["all_f1"].mean == 1.0 and complete["relation_qa"].mean == 1.0
    assert complete["reward"].low < complete["reward"].mean < complete["reward"].high
    assert "self_rank" not in complete  # SHAPES-500 images are not in the gallery
    (comparison,) = result.comparisons
    assert comparison.baseline == str(level_files["complete"]) and comparison.candidate == str(level_files["one-object"])
    assert comparison.metrics["reward"].significant and comparison.metrics["reward"].difference < 0
    assert comparison.metrics["all_f1"].significant and comparison.metrics["all_f1"].difference < -0.5
    assert "| reward |" in to_markdown(result)


def test_self_retrieval_rank_for_gallery_sources(shapes_gallery, tmp_path):
    from cim.gallery.store import Gallery

    gallery = Gallery.load(shapes_gallery)
    path = tmp_path / "own.jsonl"
    path.write_text("".join(json.dumps({"id": i, "caption": c, "source_id": i}) + "\n" for i, c in zip(gallery.ids[:20], gallery.captions[:20])))
    result = evaluate([path], CIMScorer(gallery, device="cpu"), resamples=200)
    assert result.files[str(path)]["self_rank"].mean == 1.0  # each item's own caption ranks it first


@pytest.mark.parametrize(
    ("lines", "split", "message"),
    [
        ([{"id": "shapes-test-00000", "caption": "a red circle", "image": "images/shapes-test-00000.png"}] * 2, None, r":2: duplicate id 'shapes-test-00000' \(first on line 1\)"),
        ([{"id": "shapes-test-00000", "image": "images/shapes-test-00000.png"}], None, r":1: field 'caption' must be a non-empty string"),
        ([{"id": "shapes-test-00000", "caption": "a red circle", "source_id": "nope"}], None, r":1: unknown source id 'nope'"),
        ([{"id": "shapes-val-00001", "caption": "a red circle", "image": "images/shapes-test-00000.png"}], "test", r":1: id 'shapes-val-00001' is from split 'val', expected 'test'"),
        ([{"caption": "a red circle", "image": "images/shapes-test-00000.png"}], None, r":1: field 'id' must be a non-empty string"),
    ],
)
def test_bad_caption_files(shapes_gallery, level_files, lines, split, message):
    path = level_files["complete"].parent / "bad.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(InputError, match=message):
        evaluate([path], CIMScorer(shapes_gallery, device="cpu"), split=split)


def test_files_with_different_ids_cannot_be_paired(shapes_gallery, level_files):
    short = level_files["complete"].parent / "short.jsonl"  # beside images/, so rows resolve
    short.write_text("\n".join(level_files["complete"].read_text().splitlines()[:5]) + "\n")
    with pytest.raises(InputError, match="short.jsonl: ids differ from"):
        evaluate([level_files["complete"], short], CIMScorer(shapes_gallery, device="cpu"))


def test_cli_eval_writes_json_and_markdown(shapes_gallery, level_files, tmp_path):
    runner = CliRunner()
    args = ["eval", "--captions", str(level_files["complete"]), str(level_files["one-object"]), "--gallery", str(shapes_gallery),
            "--split", "test", "--resamples", "300", "--out-json", str(tmp_path / "r.json"), "--out-md", str(tmp_path / "r.md"), "--device", "cpu"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "r.json").read_text())
    assert len(saved["files"]) == 2 and len(saved["comparisons"]) == 1
    assert (tmp_path / "r.md").read_text() in result.output


def test_capture_is_skipped_with_a_reason_when_it_cannot_run(shapes_gallery, level_files, tmp_path):
    from cim.eval.capture import CaptureUnavailable, capture_scores, capture_unavailable_reason

    references = tmp_path / "refs.jsonl"
    references.write_text("".join(json.dumps({"id": f"shapes-test-{i:05d}", "reference": "a red circle"}) + "\n" for i in range(80)))
    reason = capture_unavailable_reason()
    if reason is None:
        pytest.skip("capture-metric and its models are present: the real metric runs instead")
    result = evaluate([level_files["complete"]], CIMScorer(shapes_gallery, device="cpu"), resamples=100, references=references)
    assert result.capture_skipped == reason and "capture" not in result.files[str(level_files["complete"])]
    assert f"CAPTURE skipped: {reason}" in to_markdown(result)
    with pytest.raises(CaptureUnavailable, match="CAPTURE skipped: .*capture-metric"):
        capture_scores({"a": "a caption"}, {"a": ["a reference"]})


def test_bad_references_file(tmp_path):
    from cim.eval.capture import read_references

    path = tmp_path / "refs.jsonl"
    path.write_text(json.dumps({"id": "a", "references": ["ok", 3]}) + "\n")
    with pytest.raises(InputError, match=r"refs.jsonl:1: expected"):
        read_references(path)
