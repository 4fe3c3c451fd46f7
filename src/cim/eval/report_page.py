"""The report page: inline thumbnails, SVG histograms and the HTML template (no external resources)."""

from __future__ import annotations

import base64
import html
import io
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from PIL import Image

from cim.gallery.items import SHAPES_PREFIX, open_image
from cim.images import to_rgb

TEMPLATE = "report_template.html"
_JPEG_OVER = 6_000  # bytes: above this a PNG thumbnail is re-encoded as JPEG when that is smaller
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


class ImageTable:
    """Thumbnails as data URIs, each stored once and referred to by index."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: list[str] = []
        self._index: dict[str, int] = {}

    def add_reference(self, key: str, reference: str) -> int:
        """Index of an item image: a file path or a "shapes:<scene id>" reference (rendered at thumbnail size)."""
        if key not in self._index:
            size = self.size if reference.startswith(SHAPES_PREFIX) else 128
            return self.add_image(key, open_image(reference, render_size=size))
        return self._index[key]

    def add_image(self, key: str, image: Image.Image) -> int:
        """Index of a decoded image, downscaled to fit size × size."""
        if key not in self._index:
            self._index[key] = len(self.data)
            self.data.append(thumbnail_uri(image, self.size))
        return self._index[key]


def thumbnail_uri(image: Image.Image, size: int) -> str:
    """A data URI of the image shrunk to fit size × size: PNG, or JPEG when that is smaller for a large PNG."""
    thumb = to_rgb(image)
    thumb.thumbnail((size, size))
    buffer = io.BytesIO()
    thumb.save(buffer, format="PNG", optimize=True)
    data, kind = buffer.getvalue(), "png"
    if len(data) > _JPEG_OVER:
        buffer = io.BytesIO()
        thumb.save(buffer, format="JPEG", quality=82)
        if len(buffer.getvalue()) < len(data):
            data, kind = buffer.getvalue(), "jpeg"
    return f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")


def histogram_svg(
    values: list[float], title: str, bins: int = 20, width: int = 260, height: int = 130
) -> str:
    """An inline SVG histogram of `values` with its range, peak count and a dashed line at the mean."""
    head = f'<figure class="chart"><figcaption>{html.escape(title)}</figcaption>'
    if not values:
        return head + '<p class="muted">no values</p></figure>'
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / (hi - lo) * bins))] += 1
    left, bottom, top = 30, 22, 8
    plot_w, plot_h, peak = width - left - 6, height - bottom - top, max(counts)
    bar_w = plot_w / bins
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(title)}" viewBox="0 0 {width} {height}">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 6}" y2="{top + plot_h}" class="axis"/>',
    ]
    for i, count in enumerate(counts):
        h = plot_h * count / peak
        a, b = lo + (hi - lo) * i / bins, lo + (hi - lo) * (i + 1) / bins
        parts.append(
            f'<rect x="{left + i * bar_w + 1:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" '
            f'height="{h:.1f}" class="bar"><title>{a:.3f} – {b:.3f}: {count}</title></rect>'
        )
    mean = sum(values) / len(values)
    x = left + plot_w * (mean - lo) / (hi - lo)
    parts += [
        f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" class="mean"><title>mean {mean:.3f}</title></line>',
        f'<text x="{left}" y="{height - 6}" class="tick">{lo:.3f}</text>',
        f'<text x="{width - 6}" y="{height - 6}" class="tick" text-anchor="end">{hi:.3f}</text>',
        f'<text x="{left - 4}" y="{top + 9}" class="tick" text-anchor="end">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" class="tick" text-anchor="end">0</text>',
        "</svg>",
    ]
    return head + "".join(parts) + "</figure>"


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def summary_html(summary: dict[str, Any]) -> str:
    """The summary statistics as a definition grid; every value escaped."""
    entries = [
        ("captions", "count", str(summary["rows"])),
        ("scored", "scored", str(summary["scored"])),
        ("errors", "errors", str(summary["errors"])),
        ("mean reward", "reward", _number(summary["reward_mean"])),
        ("mean QIR", "qir", _number(summary["qir_mean"])),
        ("mean GRC", "grc", _number(summary["grc_mean"])),
        ("mean tokens", "tokens", _number(summary["tokens_mean"], 1)),
        ("truncated", "truncated", str(summary["truncated"])),
        ("K / mode", "k", f"{summary['k']} / {summary['mode']}"),
    ]
    if summary["with_facts"]:
        entries.append(("mean fact F1", "fact-f1", _number(summary["fact_f1_mean"])))
        entries.append(("relation QA, balanced", "relation-qa", _number(summary["relation_qa_mean"])))
        entries.append(("relation QA, paper-style", "relation-qa-paper", _number(summary["relation_qa_paper_mean"])))
    return "".join(
        f'<div class="stat"><dt>{html.escape(label)}</dt><dd data-{name}="{html.escape(value)}">{html.escape(value)}</dd></div>'
        for label, name, value in entries
    )


def _script_json(value: Any) -> str:
    """JSON safe to place inside a <script> element (no "</script>", no HTML-significant characters)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def render_page(
    captions: Path,
    cards: list[dict[str, Any]],
    items: dict[str, dict[str, Any]],
    images: list[str],
    summary: dict[str, Any],
    page_size: int,
) -> str:
    """The complete HTML document; cards are embedded as JSON and rendered one page at a time by inline JS."""
    scored = [c for c in cards if c["error"] is None]
    charts = [
        histogram_svg([c["reward"] for c in scored], "reward Υ = GRC + β·QIR"),
        histogram_svg([c["qir"] for c in scored], "QIR"),
        histogram_svg([c["grc"] for c in scored], "GRC"),
    ]
    if summary["with_facts"]:
        charts.append(histogram_svg([c["facts"]["f1"] for c in cards if "facts" in c], "fact F1 (shapes)"))
    empty = f'<p class="empty">No captions in {html.escape(str(captions))}.</p>' if not cards else ""
    data = {"pageSize": page_size, "k": summary["k"], "cards": cards, "items": items, "images": images}
    values = {
        "title": html.escape(f"CIM report — {captions.name}"),
        "source": html.escape(str(captions)),
        "summary": summary_html(summary),
        "charts": "".join(charts) if cards else "",
        "empty": empty,
        "data": _script_json(data),
    }
    template = resources.files("cim.eval").joinpath(TEMPLATE).read_text(encoding="utf-8")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
