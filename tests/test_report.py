"""`cim report`: the HTML report of scored captions, in headless Chromium and in plain Python."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from cim.cli import app
from cim.errors import InputError
from cim.eval.report import write_report
from cim.reward.options import ScorerOptions
from cim.reward.scorer import CIMScorer
from cim.shapes import Facts
from cim.shapes.metrics import fact_diff

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
K, PAGE_SIZE, N_CAPTIONS = 3, 25, 60
DATA = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


@pytest.fixture(scope="module")
def report_gallery(shapes_gallery) -> Path:
    """The session's 300-scene shapes gallery (tests/conftest.py)."""
    return shapes_gallery


@pytest.fixture(scope="module")
def scorer(report_gallery) -> CIMScorer:
    return CIMScorer(report_gallery, ScorerOptions(k=K))


@pytest.fixture(scope="module")
def shapes_report(scorer, tmp_path_factory) -> Path:
    """The report of SHAPES-500 complete captions for the first 60 test scenes."""
    from cim.shapes import export_split

    folder = tmp_path_factory.mktemp("report")
    captions = export_split("test", "complete", folder / "shapes-500", n=N_CAPTIONS)
    return write_report(captions, scorer, folder / "report.html", page_size=PAGE_SIZE)


def embedded(page: str) -> dict:
    match = DATA.search(page)
    assert match, "no embedded report data"
    return json.loads(match.group(1))


def test_fact_diff_words_and_sorting():
    truth = Facts.build(
        {"circle", "square"}, {("circle", "colour", "red")}, {("circle", "left of", "square")}
    )
    predicted = Facts.build({"circle"}, {("circle", "colour", "blue")}, {("square", "right of", "circle")})
    diff = fact_diff(predicted, truth)
    assert diff == {
        "correct": ["a circle", "a square", "circle is left of square"],
        "missing": ["circle is red"],
        "wrong": ["circle is blue"],
    }


def test_report_in_headless_chromium(shapes_report, tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing; `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1200, "height": 1400},
        )  # fmt: skip
        try:
            page = browser.new_page()
            page.on(
                "console", lambda message: errors.append(message.text) if message.type == "error" else None
            )
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(shapes_report.as_uri(), wait_until="load")
            page.wait_for_selector("article.card")
            page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot))

            assert page.locator("#summary [data-count]").inner_text() == str(N_CAPTIONS)
            assert page.locator("#summary [data-errors]").inner_text() == "0"
            assert page.locator(".chart svg").count() >= 2
            cards = page.locator("article.card")
            assert cards.count() == PAGE_SIZE
            for i in range(PAGE_SIZE):
                assert cards.nth(i).locator("img.source").count() == 1
                assert cards.nth(i).locator("img.retrieved").count() == K
            assert cards.first.locator(".facts .correct li").count() > 0  # the shapes fact diff is shown
            assert page.locator("#page-indicator").inner_text() == "page 1 of 3"
            first_lines = [cards.nth(i).get_attribute("data-line") for i in range(PAGE_SIZE)]
            assert first_lines == [str(line) for line in range(1, PAGE_SIZE + 1)]

            page.click("#next")
            assert page.locator("#page-indicator").inner_text() == "page 2 of 3"
            assert cards.count() == PAGE_SIZE
            assert cards.first.get_attribute("data-line") == str(PAGE_SIZE + 1)
            page.click("#next")
            assert cards.count() == N_CAPTIONS - 2 * PAGE_SIZE
            assert page.locator("#next").is_disabled()
        finally:
            browser.close()
    assert errors == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    with Image.open(shot) as image:
        assert image.size == (1200, 1400)
        assert (
            len(image.convert("RGB").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50
        )  # not a blank page


def test_report_data_and_escaping(scorer, tmp_path):
    gallery_id = scorer.gallery.ids[5]
    rows = [
        json.dumps({"id": "good", "caption": scorer.gallery.captions[5], "source_id": gallery_id}),
        json.dumps({"id": "unknown", "caption": "a red circle", "source_id": "no-such-item"}),
        '{"id": "malformed", ',
        json.dumps(
            {"id": "evil", "caption": "</script><img src=x onerror=alert(1)>", "source_id": gallery_id}
        ),
        json.dumps({"id": "shapes-test-00007", "caption": "a red circle", "image": "missing.png"}),
    ]
    captions = tmp_path / "captions.jsonl"
    captions.write_text("\n".join(rows) + "\n", encoding="utf-8")
    page = write_report(captions, scorer, tmp_path / "out.html").read_text(
        encoding="utf-8"
    )
    assert "</script><img" not in page and "onerror=alert(1)>" not in page  # untrusted text stays inert
    data = embedded(page)
    cards = {card["id"]: card for card in data["cards"]}
    assert [card["line"] for card in data["cards"]] == [1, 2, 3, 4, 5]
    good = cards["good"]
    assert (
        good["error"] is None and len(good["hits"]) == K and gallery_id not in [h["id"] for h in good["hits"]]
    )
    assert all(data["images"][data["items"][h["id"]]["img"]].startswith("data:image/") for h in good["hits"])
    assert "unknown source id 'no-such-item'" in cards["unknown"]["error"] and cards["unknown"]["src"] is None
    assert "malformed JSON" in data["cards"][2]["error"]
    assert cards["evil"]["error"] is None and cards["evil"]["caption"].startswith("</script>")
    missing = cards["shapes-test-00007"]
    assert "image not found" in missing["error"]
    assert missing["src"] is not None and missing["facts"]["scene"] == "shapes-test-00007"  # rendered scene
    assert 'data-count="5"' in page and 'data-errors="3"' in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page


def test_empty_captions_file_makes_a_valid_page(scorer, tmp_path):
    captions = tmp_path / "empty <captions>.jsonl"
    captions.write_text("", encoding="utf-8")
    page = write_report(captions, scorer, tmp_path / "empty.html").read_text(
        encoding="utf-8"
    )
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert f"No captions in {str(captions).replace('<', '&lt;').replace('>', '&gt;')}." in page
    assert embedded(page)["cards"] == [] and 'data-count="0"' in page


def test_missing_captions_file_is_named(scorer, tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(InputError, match="nope.jsonl: captions file not found"):
        write_report(missing, scorer, tmp_path / "out.html")
    result = CliRunner().invoke(
        app, ["report", "--captions", str(missing), "--gallery", str(scorer.gallery.path)]
    )
    assert result.exit_code == 2 and "nope.jsonl" in result.output


def test_cli_report(report_gallery, shapes_report, tmp_path):
    out = tmp_path / "cli.html"
    captions = shapes_report.parent / "shapes-500" / "captions.jsonl"
    args = [
        "report",
        "--captions",
        str(captions),
        "--gallery",
        str(report_gallery),
        "--out",
        str(out),
        "--limit",
        "4",
    ]
    result = CliRunner().invoke(app, [*args, "--page-size", "2", "--k", "2"])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    data = embedded(out.read_text(encoding="utf-8"))
    assert (
        len(data["cards"]) == 4 and data["pageSize"] == 2 and all(len(c["hits"]) == 2 for c in data["cards"])
    )
