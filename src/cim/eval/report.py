"""A self-contained HTML report of scored captions: per-caption cards with the retrieved items.

`write_report` scores a captions JSONL with `CIMScorer` (one call per batch), collects per caption
its source image, scores and top-K retrieved gallery items (and, on the shapes world, the fact diff
against the scene graph), and writes one offline HTML file (see `cim.eval.report_page`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from cim.errors import CIMError, InputError
from cim.eval.report_page import ImageTable, render_page
from cim.gallery.items import SHAPES_PREFIX
from cim.gallery.store import Gallery
from cim.io import atomic_write, iter_jsonl
from cim.reward.caption_rows import CaptionRow, parse_caption_row
from cim.reward.scorer import CIMScorer
from cim.wire import CaptionScore

BATCH_ROWS = 64


def _shapes_scene_id(value: Any) -> str | None:
    """The row's shapes scene id: its "source_id", else its "id", when one parses as a scene id."""
    from cim.shapes import scene_from_id

    if not isinstance(value, dict):
        return None
    for key in ("source_id", "id"):
        candidate = value.get(key)
        if isinstance(candidate, str):
            try:
                scene_from_id(candidate)
            except CIMError:
                continue
            return candidate
    return None


def _facts(caption: str, scene_id: str) -> dict[str, Any]:
    """Fact diff of a caption against its scene graph, plus the pooled fact F1."""
    from cim.shapes import caption_scores, read_facts, scene_facts, scene_from_id
    from cim.shapes.metrics import fact_diff

    scene = scene_from_id(scene_id)
    scores = {name: round(value, 4) for name, value in caption_scores(caption, scene).items()}
    return {"scene": scene_id, "f1": scores["all_f1"], "qa": scores["relation_qa"], "qa_paper": scores["relation_qa_paper"],
            **fact_diff(read_facts(caption), scene_facts(scene))}  # fmt: skip


class _Collector:
    """Turns parsed rows and their scores into card records, sharing one image table."""

    def __init__(self, gallery: Gallery, images: ImageTable) -> None:
        self.gallery = gallery
        self.images = images
        self.items: dict[str, dict[str, Any]] = {}

    def _gallery_item(self, item_id: str) -> str:
        if item_id not in self.items:
            row = self.gallery.row(item_id)
            key = self.images.add_reference(f"g:{item_id}", self.gallery.images[row])
            self.items[item_id] = {"caption": self.gallery.captions[row], "img": key}
        return item_id

    def _source_image(self, value: Any, row: CaptionRow | None, scene_id: str | None) -> str | None:
        """Image key of the source: the gallery item, the decoded file, or the rendered shapes scene."""
        if row is not None and row.source_id is not None:
            return self.items[self._gallery_item(row.source_id)]["img"]
        if row is not None and isinstance(row.source, Image.Image):
            return self.images.add_image(f"line:{row.line}", row.source)
        source_id = value.get("source_id") if isinstance(value, dict) else None
        if isinstance(source_id, str) and source_id in self.gallery:
            return self.items[self._gallery_item(source_id)]["img"]
        if scene_id is not None:
            return self.images.add_reference(f"scene:{scene_id}", SHAPES_PREFIX + scene_id)
        return None

    def card(
        self, line: int, value: Any, row: CaptionRow | None, score: CaptionScore | None, error: str | None
    ) -> dict[str, Any]:
        """One card's record; `error` set means no score."""
        caption = value.get("caption") if isinstance(value, dict) else None
        row_id = value.get("id") if isinstance(value, dict) else None
        scene_id = _shapes_scene_id(value)
        try:
            source = self._source_image(value, row, scene_id)
        except (CIMError, OSError, ValueError):  # a missing picture must not hide the row
            source = None
        card: dict[str, Any] = {
            "line": line,
            "id": None if row_id is None else str(row_id),
            "caption": caption if isinstance(caption, str) else "",
            "src": source,
            "error": error,
        }
        if score is not None:
            card.update(
                reward=round(score.reward, 4), qir=round(score.qir, 4), grc=round(score.grc, 4),
                tokens=score.n_tokens, truncated=score.truncated,
                hits=[
                    {"id": self._gallery_item(item_id), "ts": round(ts, 4), "is": round(im, 4)}
                    for item_id, ts, im in zip(score.retrieved_ids, score.text_sims, score.image_sims)
                ],
            )  # fmt: skip
        if scene_id is not None and isinstance(caption, str) and caption.strip():
            card["facts"] = _facts(caption, scene_id)
        return card


def _score_batch(scorer: CIMScorer, rows: list[CaptionRow]) -> list[CaptionScore | str]:
    """One scorer call for the batch; if it fails, score rows one by one so only bad rows become errors."""
    if not rows:
        return []
    try:
        return list(scorer.score([r.caption for r in rows], [r.source for r in rows]))
    except CIMError:
        pass
    results: list[CaptionScore | str] = []
    for row in rows:
        try:
            results.append(scorer.score([row.caption], [row.source])[0])
        except CIMError as error:
            results.append(str(error))
    return results


def _limited(captions: Path, limit: int | None) -> Iterator[tuple[int, Any]]:
    for count, (line, value) in enumerate(iter_jsonl(captions)):
        if limit is not None and count >= limit:
            return
        yield line, value


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _summary(cards: list[dict[str, Any]], k: int, mode: str) -> dict[str, Any]:
    scored = [c for c in cards if c["error"] is None]
    f1 = [c["facts"]["f1"] for c in cards if "facts" in c]
    qa = {key: _mean([c["facts"][key] for c in cards if "facts" in c]) for key in ("qa", "qa_paper")}
    summary: dict[str, Any] = {
        "rows": len(cards), "scored": len(scored), "errors": len(cards) - len(scored), "k": k, "mode": mode,
        "truncated": sum(bool(c["truncated"]) for c in scored),
        "tokens_mean": _mean([c["tokens"] for c in scored]),
        "fact_f1_mean": _mean(f1), "with_facts": len(f1),
        "relation_qa_mean": qa["qa"], "relation_qa_paper_mean": qa["qa_paper"],
    }  # fmt: skip
    for field in ("reward", "qir", "grc"):
        summary[f"{field}_mean"] = _mean([c[field] for c in scored])
    return summary


def write_report(
    captions: Path,
    scorer: CIMScorer,
    out: Path,
    page_size: int = 50,
    limit: int | None = None,
    thumb_size: int = 96,
) -> Path:
    """Score `captions` with `scorer` (its gallery and options) and write one self-contained HTML report to `out`.

    Bad rows (malformed JSON, unknown source ids, unreadable images) become error cards. Returns `out`.
    """
    captions, out = Path(captions), Path(out)
    if not captions.is_file():
        raise InputError("captions file not found", source=str(captions))
    for name, value in (("page_size", page_size), ("thumb_size", thumb_size)):
        if not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise InputError(f"limit must be a non-negative integer, got {limit!r}")
    k, mode = scorer.options.k, scorer.options.mode
    images = ImageTable(thumb_size)
    collector = _Collector(scorer.gallery, images)
    cards: list[dict[str, Any]] = []
    pending: list[tuple[int, Any, CaptionRow | None, str | None]] = []

    def flush() -> None:
        good = [row for _, _, row, _ in pending if row is not None]
        results = iter(_score_batch(scorer, good))
        for line, value, row, error in pending:
            result = next(results) if row is not None else error
            score = result if isinstance(result, CaptionScore) else None
            cards.append(collector.card(line, value, row, score, None if score is not None else str(result)))
        pending.clear()

    for line, value in _limited(captions, limit):
        try:
            pending.append((line, value, parse_caption_row(captions, line, value, scorer.gallery), None))
        except InputError as error:
            pending.append((line, value, None, str(error)))
        if sum(row is not None for _, _, row, _ in pending) >= BATCH_ROWS:
            flush()
    flush()
    summary = _summary(cards, k, mode)
    page = render_page(captions, cards, collector.items, images.data, summary, page_size)
    with atomic_write(out) as stream:
        stream.write(page)
    return out
