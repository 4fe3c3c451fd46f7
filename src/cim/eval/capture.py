"""Optional real-data metric: CAPTURE (scene-graph object/attribute/relation F1) via the capture-metric package.

It runs only where the package, its models and its NLTK data are already local (it would otherwise try to
download them); `capture_unavailable_reason()` says what is missing, and callers skip with that message.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from cim.errors import CIMError, InputError
from cim.io import read_jsonl

CAPTURE_MODELS = {
    "scene-graph parser": "lizhuang144/flan-t5-base-VG-factual-sg",
    "soft-matching encoder": "sentence-transformers/all-mpnet-base-v2",
}
NLTK_DATA = ("corpora/wordnet", "tokenizers/punkt", "taggers/averaged_perceptron_tagger")


class CaptureUnavailable(CIMError):
    """CAPTURE cannot run here; the message says why."""


def capture_unavailable_reason() -> str | None:
    """None when CAPTURE can run offline here, else what is missing."""
    if importlib.util.find_spec("capture_metric") is None:
        return "the capture-metric package is not installed (pip install capture-metric)"
    from huggingface_hub import try_to_load_from_cache

    for role, repo in CAPTURE_MODELS.items():
        if not isinstance(try_to_load_from_cache(repo, "config.json"), str):
            return f"CAPTURE's {role} {repo} is not in the local Hugging Face cache"
    import nltk

    for resource in NLTK_DATA:
        try:
            nltk.data.find(resource)
        except LookupError:
            return f"NLTK data {resource!r} is missing (python -m nltk.downloader {resource.split('/')[1]})"
    import torch

    if not torch.cuda.is_available():
        return "capture-metric's soft matching runs on cuda:0 and no CUDA device is present"
    return None


def read_references(path: Path) -> dict[str, list[str]]:
    """References JSONL: {"id", "reference": str} or {"id", "references": [str, ...]} per line."""
    references: dict[str, list[str]] = {}
    for line, row in read_jsonl(Path(path)):
        texts = row.get("references", [row.get("reference")])
        if not isinstance(row.get("id"), str) or not isinstance(texts, list) or not all(isinstance(t, str) and t for t in texts):
            raise InputError('expected {"id": str, "reference": str} or {"id": str, "references": [str, ...]}', source=str(path), line=line)
        references[row["id"]] = texts
    return references


def capture_scores(captions: dict[str, str], references: dict[str, list[str]]) -> dict[str, float]:
    """CAPTURE score of each caption against its references (ids must match)."""
    reason = capture_unavailable_reason()
    if reason is not None:
        raise CaptureUnavailable(f"CAPTURE skipped: {reason}")
    missing = sorted(set(captions) - set(references))
    if missing:
        raise InputError(f"no reference for id {missing[0]!r} ({len(missing)} ids without references)")
    from capture_metric.capture import CAPTURE

    ids = sorted(captions)
    _, scores = CAPTURE().compute_score({i: references[i] for i in ids}, {i: [captions[i]] for i in ids})
    return dict(zip(ids, (float(s) for s in scores)))
