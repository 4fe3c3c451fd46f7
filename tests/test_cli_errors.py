"""One kind of user error: every command turns a bad choice into one clear line and exit code 2, while a bug
inside the library keeps its traceback. Also the `cim score` defects of issue 9 (output = input, NaN ids)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cim.cli import app

runner = CliRunner()


def bad_choices(built_gallery, tmp_path) -> list[tuple[list[str], str]]:
    captions = tmp_path / "captions.jsonl"
    captions.write_text(json.dumps({"id": "a", "caption": "a red circle", "source_id": "red-circle-0"}) + "\n")
    gallery = str(built_gallery)
    return [
        (["score", "--gallery", gallery, "--captions", str(captions), "--out", str(tmp_path / "o.jsonl"), "--mode", "strict"],
         "option 'mode': Input should be 'clean' or 'official' (got 'strict')"),
        (["eval", "--gallery", gallery, "--captions", str(captions), "--mode", "strict"], "option 'mode': Input should be 'clean'"),
        (["report", "--gallery", gallery, "--captions", str(captions), "--index", "annoy"], "unknown search backend 'annoy'; valid:"),
        (["serve", "--gallery", gallery, "--retrieval", "pixels"], "option 'retrieval': Input should be 'text' or 'image'"),
        (["serve", "--gallery", gallery, "--k", "20", "--max-k", "16"], "k=20 is above max_k=16"),
        (["score", "--gallery", gallery, "--captions", str(captions), "--out", str(tmp_path / "o.jsonl"), "--rerank", "spice"],
         "option 'rerank': unknown re-ranker 'spice'; valid: none, tuples"),
        (["eval", "--gallery", gallery, "--captions", str(captions), "--rerank", "tuples", "--shortlist", "12"],
         "shortlist=12 is below 10·k=30"),
        (["report", "--gallery", gallery, "--captions", str(captions), "--extractor", "spacy"],
         "option 'extractor': unknown fact extractor 'spacy'; valid: shapes, factual:<hf id or folder>"),
        (["train", "grpo", "--out", str(tmp_path / "r0"), "--set", "reward.rerank=cross"], "recipe key 'reward.rerank'"),
        (["gallery", "build", "--shapes", "4", "--out", str(tmp_path / "g1"), "--pooling", "grid5"],
         "unknown image pooling 'grid5'; valid: global, grid2, grid3"),
        (["gallery", "build", "--shapes", "4", "--out", str(tmp_path / "g2"), "--chunk-size", "0"],
         "chunk_size must be a positive integer, got 0"),
        (["gallery", "build", "--shapes", "4", "--out", str(tmp_path / "g3"), "--text-encoder", "sbert"],
         "text encoder spec 'sbert' needs a model"),
        (["gallery", "build", "--shapes", "4", "--out", str(tmp_path / "g4"), "--image-encoder", "resnet"],
         "unknown image encoder 'resnet'; valid:"),
        (["gallery", "import", "--text-emb", str(tmp_path / "t.pt"), "--image-emb", str(tmp_path / "i.pt"),
          "--captions", str(captions), "--out", str(tmp_path / "g5")], "t.pt"),
        (["gallery", "info", str(tmp_path)], "not a gallery folder"),
        (["gallery", "reembed", str(tmp_path), "--text-encoder", "minilm", "--out", str(tmp_path / "g6")], "not a gallery folder"),
        (["encoder", "finetune", "--gallery", gallery, "--out", str(tmp_path / "f1")], "fewer than --min-captions 200"),
        (["train", "grpo", "--out", str(tmp_path / "r1"), "--set", "reward.mode=strict"], "recipe key 'reward.mode'"),
        (["train", "sft", "--out", str(tmp_path / "r2"), "--set", "sft.lr_scheduler=warp"], "recipe key 'sft.lr_scheduler'"),
        (["shapes", "export", "--out", str(tmp_path / "e"), "--level", "everything"], "unknown caption level 'everything'; valid:"),
        (["shapes", "export", "--out", str(tmp_path / "e"), "--split", "holdout"], "unknown split 'holdout'; valid:"),
        (["demo", "--workdir", str(tmp_path / "d"), "--set", "grpo.loss_type=ppo"], "recipe key 'grpo.loss_type'"),
    ]  # fmt: skip


def test_every_command_reports_a_bad_choice_in_one_line(built_gallery, tmp_path):
    for args, message in bad_choices(built_gallery, tmp_path):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output, result.exception)
        assert message in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output and result.output.startswith("error:"), (args, result.output)


@pytest.mark.parametrize("command", ["score", "shapes export", "train sft"])
def test_a_bug_inside_the_library_keeps_its_traceback(built_gallery, tmp_path, monkeypatch, command):
    def broken(*args, **kwargs):
        raise ValueError("an internal invariant broke")

    captions = tmp_path / "c.jsonl"
    captions.write_text("{}\n")
    target, args = {
        "score": ("cim.reward.score_file.score_file",
                  ["score", "--gallery", str(built_gallery), "--captions", str(captions), "--out", str(tmp_path / "o")]),
        "shapes export": ("cim.shapes.export_split", ["shapes", "export", "--out", str(tmp_path / "e")]),
        "train sft": ("cim.train.run.run_sft", ["train", "sft", "--out", str(tmp_path / "r")]),
    }[command]  # fmt: skip
    monkeypatch.setattr(target, broken)
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and isinstance(result.exception, ValueError), result.output
    assert "error:" not in result.output


@pytest.mark.parametrize("link", [False, True])
def test_score_refuses_to_write_over_its_input(built_gallery, tmp_path, link):
    captions = tmp_path / "captions.jsonl"
    text = json.dumps({"id": "a", "caption": "a red circle", "source_id": "red-circle-0"}) + "\n"
    captions.write_text(text)
    out = captions
    if link:
        out = tmp_path / "alias.jsonl"
        out.symlink_to(captions)
    result = runner.invoke(app, ["score", "--gallery", str(built_gallery), "--captions", str(captions), "--out", str(out)])
    assert result.exit_code == 2 and "--out is the captions file itself" in result.output
    assert captions.read_text() == text


def test_score_output_is_valid_json_whatever_the_ids(built_gallery, tmp_path):
    captions = tmp_path / "captions.jsonl"
    captions.write_text(
        '{"id": NaN, "caption": "a red circle", "source_id": "red-circle-0"}\n'
        '{"id": [1], "caption": "a red circle", "source_id": "red-circle-0"}\n'
        '{"id": 7, "caption": "a red circle", "source_id": "red-circle-0"}\n'
    )
    out = tmp_path / "scores.jsonl"
    result = runner.invoke(app, ["score", "--gallery", str(built_gallery), "--captions", str(captions), "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in the output")) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == [None, None, 7]
    assert "field 'id' must be a string or an integer, got nan" in records[0]["error"]
    assert "error" in records[1] and records[2]["reward"] > 0
