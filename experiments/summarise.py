"""Markdown tables of the training experiments' results (results/*.json), for experiments/README.md.

    .venv/bin/python experiments/summarise.py

The last line of stdout is a JSON object listing the tables written (also saved to results/summary.json).
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
COLUMNS = (
    ("object_precision", "obj P"), ("object_recall", "obj R"), ("object_f1", "obj F1"), ("attribute_f1", "attr F1"),
    ("relation_precision", "rel P"), ("relation_recall", "rel R"), ("relation_f1", "rel F1"),
    ("relation_qa", "rel-QA balanced"), ("relation_qa_paper", "rel-QA paper"), ("reward", "reward"), ("tokens", "tokens"), ("repetition", "rep-4"),
)  # fmt: skip


def cell(stats: dict) -> str:
    std = stats.get("std")
    return f"{stats['mean']:.3f}" + (f" ± {std:.3f}" if std is not None else "")


def table(summary: dict) -> str:
    lines = ["| arm | " + " | ".join(label for _, label in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for arm, stats in summary.items():
        lines.append(f"| {arm} | " + " | ".join(cell(stats[m]) if m in stats else "–" for m, _ in COLUMNS) + " |")
    return "\n".join(lines)


def main() -> None:
    written = []
    for name in ("main_table", "reward_ablation", "gallery_scale", "reward_mode", "reward_remedy"):
        path = RESULTS / f"{name}.json"
        if path.is_file():
            print(f"### {name}\n\n{table(json.loads(path.read_text())['summary'])}\n")
            written.append(name)
    headline = {"tables": written}
    (RESULTS / "summary.json").write_text(json.dumps(headline))
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
