"""What a text encoder makes of held-out hard negatives: triplet accuracy, twin cosines, paraphrase retrieval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from cim.adapt.triplets import Triplet, ValidationSet


def _embed(model: Any, texts: Sequence[str], batch_size: int) -> dict[str, torch.Tensor]:
    """Each distinct text → its L2-normalised embedding (one encode call, in the model's eval mode)."""
    distinct = sorted(set(texts))
    if not distinct:
        return {}
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        vectors = model.encode(distinct, batch_size=batch_size, convert_to_tensor=True, normalize_embeddings=True,
                               show_progress_bar=False).float().cpu()  # fmt: skip
    model.train(was_training)
    return dict(zip(distinct, vectors, strict=True))


def _cos(vectors: dict[str, torch.Tensor], left: Sequence[str], right: Sequence[str]) -> torch.Tensor:
    return (torch.stack([vectors[t] for t in left]) * torch.stack([vectors[t] for t in right])).sum(dim=1)


def _triplet_scores(vectors: dict[str, torch.Tensor], triplets: list[Triplet]) -> dict[str, float | int]:
    positive = _cos(vectors, [t.anchor for t in triplets], [t.positive for t in triplets])
    negative = _cos(vectors, [t.anchor for t in triplets], [t.negative for t in triplets])
    return {"accuracy": float((positive > negative).float().mean()), "margin": float((positive - negative).mean()),
            "n": len(triplets)}  # fmt: skip


def evaluate_encoder(model: Any, data: ValidationSet, batch_size: int = 64) -> dict[str, Any]:
    """Metrics of a SentenceTransformer on a validation set (None where the set has no such items):

    - `triplet_accuracy`: share of held-out triplets with cos(anchor, positive) > cos(anchor, negative), all kinds;
      `by_kind`: accuracy, mean margin and count per kind;
    - `twin_cosine`: mean cos(caption, its relation-swapped twin), captions as in the gallery;
      `heldout_twin_cosine`: the same in the held-out phrasing;
    - `paraphrase_recall_at_1`: how often a held-out anchor's nearest positive (among all held-out positives)
      is its own: retrieval must survive the fine-tune.
    """
    triplets = [t for kind in data.triplets.values() for t in kind]
    texts = [x for t in triplets for x in (t.anchor, t.positive, t.negative)]
    texts += [x for pair in (*data.twins, *data.heldout_twins) for x in pair]
    vectors = _embed(model, texts, batch_size)
    result: dict[str, Any] = {"triplet_accuracy": None, "by_kind": {}, "twin_cosine": None,
                              "heldout_twin_cosine": None, "paraphrase_recall_at_1": None}  # fmt: skip
    if triplets:
        result["triplet_accuracy"] = _triplet_scores(vectors, triplets)["accuracy"]
        result["by_kind"] = {kind: _triplet_scores(vectors, items) for kind, items in data.triplets.items() if items}
    for key, pairs in (("twin_cosine", data.twins), ("heldout_twin_cosine", data.heldout_twins)):
        if pairs:
            result[key] = float(_cos(vectors, [a for a, _ in pairs], [b for _, b in pairs]).mean())
    relation = data.triplets.get("relation") or []
    if len(relation) > 1:
        anchors = torch.stack([vectors[t.anchor] for t in relation])
        positives = torch.stack([vectors[t.positive] for t in relation])
        nearest = (anchors @ positives.T).argmax(dim=1)  # (n,) index of each anchor's nearest positive
        result["paraphrase_recall_at_1"] = float((nearest == torch.arange(len(relation))).float().mean())
    return result
