"""`cim score` end to end: per-row error records, the other rows still scored, resume, summary; lazy --help."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cim.cli import app
from cim.reward.score_file import score_file
from cim.reward.scorer import CIMScorer

runner = CliRunner()


@pytest.fixture()
def captions_file(items_file, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"GIF89a no")
    image = items_file.parent / "img" / "blue-square-1.png"
    lines = [
        json.dumps({"id": "ok-id", "caption": "a red circle", "source_id": "red-circle-0"}).encode(),
        json.dumps({"id": "ok-image", "caption": "a blue square", "image": str(image)}).encode(),
        b'{"id": "malformed", "caption": ',
        json.dumps({"id": "empty", "caption": "   ", "source_id": "red-circle-0"}).encode(),
        json.dumps({"id": "unknown", "caption": "a red circle", "source_id": "no-such-item"}).encode(),
        json.dumps({"id": "missing-image", "caption": "a red circle", "image": str(tmp_path / "nope.png")}).encode(),
        json.dumps({"id": "broken-image", "caption": "a red circle", "image": str(broken)}).encode(),
        b'{"id": "latin1", "caption": "caf\xe9", "source_id": "red-circle-0"}',
        json.dumps({"id": "no-source", "caption": "a red circle"}).encode(),
        json.dumps({"id": "ok-last", "caption": "a green circle", "source_id": "green-circle-2"}).encode(),
    ]
    path = tmp_path / "captions.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


EXPECTED_ERRORS = {
    3: "malformed JSON",
    4: "field 'caption' must be a non-empty string",
    5: "unknown source id 'no-such-item'",
    6: "nope.png: image not found",
    7: "broken.png: unreadable image",
    8: "not UTF-8",
    9: "needs an 'image' path or a 'source_id'",
}


def test_cli_scores_good_rows_and_records_bad_ones(built_gallery, captions_file, tmp_path):
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["score", "--gallery", str(built_gallery), "--captions", str(captions_file), "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in records] == list(range(1, 11))
    for record in records:
        if record["line"] in EXPECTED_ERRORS:
            assert EXPECTED_ERRORS[record["line"]] in record["error"]
            assert f"captions.jsonl:{record['line']}" in record["error"]
        else:
            assert set(record) >= {"reward", "qir", "grc", "retrieved_ids", "text_sims", "image_sims", "truncated"}
            assert len(record["retrieved_ids"]) == 3
    assert records[0]["id"] == "ok-id" and "red-circle-0" not in records[0]["retrieved_ids"]
    assert "7 errors" not in result.output and "10" in result.output  # summary table: 10 rows


def test_resume_scores_only_missing_lines(built_gallery, captions_file, tmp_path):
    scorer = CIMScorer(built_gallery, device="cpu")
    out = tmp_path / "out.jsonl"
    full = score_file(scorer, captions_file, out)
    complete = out.read_text().splitlines()
    out.write_text("\n".join(complete[:4]) + "\n")  # as if killed after 4 records
    resumed = score_file(scorer, captions_file, out, resume=True)
    assert sorted(json.loads(line)["line"] for line in out.read_text().splitlines()) == list(range(1, 11))
    assert resumed == full
    assert full["rows"] == 10 and full["scored"] == 3 and full["errors"] == 7


def test_missing_captions_file_is_a_clear_error(built_gallery, tmp_path):
    result = runner.invoke(app, ["score", "--gallery", str(built_gallery), "--captions", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
    assert "none.jsonl: captions file not found" in result.output


def test_help_does_not_import_torch():
    code = "import sys; from cim.cli import app; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
    help_text = subprocess.run([sys.executable, "-m", "cim.cli", "--help"], capture_output=True, text=True, check=True).stdout
    assert "gallery" in help_text and "score" in help_text
