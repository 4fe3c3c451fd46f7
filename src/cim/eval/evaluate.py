"""`cim eval`: CIM metrics with bootstrap intervals, text statistics, shapes fact metrics, the paper's LLM
relation QA, paired comparisons."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cim.errors import InputError
from cim.eval.bootstrap import bootstrap_interval, paired_bootstrap
from cim.eval.captions import read_eval_captions, shapes_ids
from cim.eval.capture import capture_scores, capture_unavailable_reason, read_references
from cim.eval.llm_relation_qa import RelationQA, build_prompt
from cim.eval.qa_answers import score_reply
from cim.eval.results import Comparison, Difference, Evaluation, Interval, RelationQALLM
from cim.eval.text_stats import repetition_rate, words
from cim.index.rank import rank_of_rows
from cim.reward.caption_rows import CaptionRow
from cim.reward.scorer import CIMScorer

CIM_METRICS = ("reward", "qir", "grc")
TEXT_METRICS = ("tokens", "words", "truncated", "repetition")
SCENE_METRICS = tuple(f"{kind}_{m}" for kind in ("object", "attribute", "relation") for m in ("precision", "recall", "f1")) + (
    "all_f1",
    "relation_qa",
    "relation_qa_paper",
    "unread_share",
)
"""Per caption against its scene graph (`cim.shapes.caption_scores`)."""
FACT_METRICS = (*SCENE_METRICS, "redundant_share")
"""The shapes world's metrics: SCENE_METRICS and the share of sentences that state no new fact (`cim.reward.redundancy`)."""
LLM_QA_METRICS = ("relation_qa_llm", "relation_qa_llm_na", "relation_qa_llm_missing")


def caption_metrics(scorer: CIMScorer, rows: Sequence[CaptionRow], batch_size: int = 256) -> dict[str, np.ndarray]:
    """Per-caption metric columns, row-aligned with `rows`."""
    columns: dict[str, list[float]] = {name: [] for name in (*CIM_METRICS, *TEXT_METRICS, "self_rank")}
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        text = scorer.encode([row.caption for row in batch])
        for row, result in zip(batch, scorer.score_encoded(text, [row.source for row in batch], [row.caption for row in batch])):
            for name in CIM_METRICS:
                columns[name].append(getattr(result, name))
            columns["tokens"].append(result.n_tokens)
            columns["truncated"].append(float(result.truncated))
            columns["words"].append(len(words(row.caption)))
            columns["repetition"].append(repetition_rate(row.caption))
        in_gallery = [(i, scorer.gallery.row(row.source_id)) for i, row in enumerate(batch) if row.source_id is not None]
        ranks = dict.fromkeys(range(len(batch)), float("nan"))
        if in_gallery and scorer.options.retrieval == "text":
            found = rank_of_rows(scorer.gallery.text_emb, text.vectors[[i for i, _ in in_gallery]], [r for _, r in in_gallery])
            ranks.update({i: float(rank) for (i, _), rank in zip(in_gallery, found)})
        columns["self_rank"] += [ranks[i] for i in range(len(batch))]
    if shapes_ids(list(rows)):
        columns.update(shapes_metrics(rows))
    return {name: np.asarray(values, dtype=np.float64) for name, values in columns.items()}


def shapes_metrics(rows: Sequence[CaptionRow]) -> dict[str, list[float]]:
    """Exact fact precision / recall / F1 and relation-QA accuracy against each scene graph, the share of unread
    sentences and the share of redundant ones (read by the shapes extractor)."""
    from cim.reward.extractors import load_extractor
    from cim.reward.redundancy import redundant_shares
    from cim.shapes import caption_scores, scene_from_id

    scores = [caption_scores(row.caption, scene_from_id(row.id)) for row in rows]
    columns = {name: [score[name] for score in scores] for name in SCENE_METRICS}
    return columns | {"redundant_share": redundant_shares(load_extractor("shapes"), [row.caption for row in rows])}


def _asked(ids: Sequence[str], qa: RelationQA, source: str | None = None) -> list[int]:
    """Positions of the ids that have questions; an InputError when none has."""
    asked = [i for i, row_id in enumerate(ids) if row_id in qa.questions]
    if not asked:
        raise InputError(f"no caption id has questions in {qa.questions_file} (caption ids look like {ids[0]!r}, "
                         f"question ids like {next(iter(qa.questions))!r})", source=source)  # fmt: skip
    return asked


def relation_qa_llm_metrics(
    rows: Sequence[CaptionRow], qa: RelationQA
) -> tuple[dict[str, np.ndarray], RelationQALLM]:
    """The paper's relation QA of one file: columns whose means are the accuracy, n/a share and missing share
    over all questions (each caption weighted by its number of questions; NaN without questions), and totals."""
    asked = _asked([row.id for row in rows], qa)
    replies = qa.answerer.replies([build_prompt(rows[i].caption, qa.questions[rows[i].id]) for i in asked])
    truths = [[q.answer for q in qa.questions[rows[i].id]] for i in asked]
    scores = [score_reply(reply, truth) for reply, truth in zip(replies, truths)]
    total = sum(score.questions for score in scores)
    per_caption = total / len(scores)
    columns = {name: np.full(len(rows), np.nan) for name in LLM_QA_METRICS}
    for i, score in zip(asked, scores):
        for name, count in zip(LLM_QA_METRICS, (score.correct, score.na, score.missing)):
            columns[name][i] = count / per_caption
    result = RelationQALLM(
        model=qa.model, questions_file=qa.questions_file, images=len(scores), images_without_caption=len(qa.questions) - len(scores),
        questions=total, accuracy=sum(s.correct for s in scores) / total, yes_share=sum(s.truth_yes for s in scores) / total,
        na_share=sum(s.na for s in scores) / total, missing_share=sum(s.missing for s in scores) / total,
    )  # fmt: skip
    return columns, result


def _summary(columns: dict[str, np.ndarray], resamples: int) -> dict[str, Interval]:
    out = {}
    for name, values in columns.items():
        present = values[~np.isnan(values)]
        if len(present):
            interval = bootstrap_interval(present, resamples)
            out[name] = Interval(mean=interval.mean, low=interval.low, high=interval.high, n=len(present))
    return out


def _compare(baseline: dict[str, np.ndarray], candidate: dict[str, np.ndarray], resamples: int) -> dict[str, Difference]:
    out = {}
    for name, values in candidate.items():
        base = baseline[name]
        keep = ~(np.isnan(values) | np.isnan(base))
        if keep.any():
            test = paired_bootstrap(base[keep], values[keep], resamples)
            out[name] = Difference(difference=test.difference, low=test.low, high=test.high, p_value=test.p_value,
                                   significant=test.significant)  # fmt: skip
    return out


def evaluate(
    captions: Sequence[Path],
    scorer: CIMScorer,
    split: str | None = None,
    resamples: int = 2000,
    references: Path | None = None,
    relation_qa: RelationQA | None = None,
) -> Evaluation:
    """Metrics of each caption file; files after the first are compared with it item by item (paired bootstrap).

    With `references`, CAPTURE is added where capture-metric can run offline; otherwise
    `capture_skipped` says why. With `relation_qa`, its model answers each captioned image's questions.
    """
    files = [Path(path) for path in captions]
    rows = [read_eval_captions(path, scorer.gallery, split) for path in files]
    ids = [[row.id for row in file_rows] for file_rows in rows]
    for path, file_ids in zip(files[1:], ids[1:]):
        missing = set(ids[0]) ^ set(file_ids)
        if missing:
            raise InputError(f"ids differ from {files[0]}: e.g. {sorted(missing)[0]!r}; paired comparison needs the same ids", source=str(path))
    if relation_qa is not None:
        for path, file_ids in zip(files, ids):
            _asked(file_ids, relation_qa, str(path))  # before anything runs
    reference_texts = read_references(references) if references is not None else None
    skipped = capture_unavailable_reason() if reference_texts is not None else None
    columns = []
    qa_results: dict[str, RelationQALLM] = {}
    for path, file_rows, file_ids in zip(files, rows, ids):
        order = np.argsort(file_ids, kind="stable")  # align files by id
        metrics = caption_metrics(scorer, file_rows)
        if reference_texts is not None and skipped is None:
            capture = capture_scores({row.id: row.caption for row in file_rows}, reference_texts)
            metrics["capture"] = np.array([capture[i] for i in file_ids])
        if relation_qa is not None:
            qa_columns, qa_results[str(path)] = relation_qa_llm_metrics(file_rows, relation_qa)
            metrics.update(qa_columns)
        columns.append({name: values[order] for name, values in metrics.items()})
    return Evaluation(
        reward=scorer.options, gallery=str(scorer.gallery.path), resamples=resamples, capture_skipped=skipped,
        relation_qa_llm=qa_results or None,
        files={str(path): _summary(file_columns, resamples) for path, file_columns in zip(files, columns)},
        comparisons=[
            Comparison(baseline=str(files[0]), candidate=str(path), metrics=_compare(columns[0], file_columns, resamples))
            for path, file_columns in zip(files[1:], columns[1:])
        ],
    )  # fmt: skip


def to_markdown(result: Evaluation) -> str:
    """Side-by-side table of means with 95% intervals, then the paired differences."""
    files = list(result.files)
    metrics = [m for m in (*CIM_METRICS, "self_rank", *TEXT_METRICS, *FACT_METRICS, "capture", *LLM_QA_METRICS) if any(m in result.files[f] for f in files)]
    lines = ["| metric | " + " | ".join(Path(f).parent.name + "/" + Path(f).name for f in files) + " |",
             "|---|" + "---|" * len(files)]
    for metric in metrics:
        cells = []
        for f in files:
            s = result.files[f].get(metric)
            cells.append(f"{s.mean:.4f} [{s.low:.4f}, {s.high:.4f}]" if s else "–")
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    for comparison in result.comparisons:
        lines += ["", f"**{comparison.candidate} − {comparison.baseline}** (paired bootstrap, 95% interval, two-sided p)", "",
                  "| metric | difference | interval | p | significant |", "|---|---|---|---|---|"]  # fmt: skip
        for metric in metrics:
            if metric in comparison.metrics:
                c = comparison.metrics[metric]
                lines.append(f"| {metric} | {c.difference:+.4f} | [{c.low:+.4f}, {c.high:+.4f}] | {c.p_value:.4f} | {'yes' if c.significant else 'no'} |")
    if result.capture_skipped is not None:
        lines += ["", f"CAPTURE skipped: {result.capture_skipped}"]
    if result.relation_qa_llm:
        lines += ["", *_relation_qa_llm_table(result.relation_qa_llm)]
    return "\n".join(lines) + "\n"


def _relation_qa_llm_table(results: dict[str, RelationQALLM]) -> list[str]:
    first = next(iter(results.values()))
    lines = [f"**relation_qa_llm** (the paper's protocol): {first.model} answered the questions of {first.questions_file}, "
             "each image's from its caption alone; an answer counts only when it equals the ground truth (n/a and missing "
             "answers are wrong).", "",
             "| captions | images | without caption | questions | accuracy | yes share (truth) | n/a share | missing share |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for path, r in results.items():
        lines.append(f"| {Path(path).parent.name}/{Path(path).name} | {r.images} | {r.images_without_caption} | {r.questions} | "
                     f"{r.accuracy:.4f} | {r.yes_share:.4f} | {r.na_share:.4f} | {r.missing_share:.4f} |")  # fmt: skip
    return lines
