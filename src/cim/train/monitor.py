"""Watch what GRPO does to a shapes captioner: fact precision, recall and relation QA logged every step.

TRL logs a reward function's `log_metric` calls; `ShapesMonitor` is such a function that rewards nothing
(it returns None for every completion, and gets weight 0), so the policy's reward is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cim.integrations.trl import completion_text

MONITORED = ("object_precision", "object_recall", "attribute_f1", "relation_precision", "relation_recall")


class ShapesMonitor:
    """A weight-0 TRL reward function logging shapes/<metric> means of the completions against their scenes."""

    __name__ = "shapes_monitor"

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] = (), **kwargs: Any) -> list[None]:
        from cim.shapes import caption_scores, scene_from_id

        log_metric, scene_ids = kwargs.get("log_metric"), kwargs.get("scene_id")
        if callable(log_metric) and scene_ids:
            totals = dict.fromkeys((*MONITORED, "relation_qa", "relation_qa_paper"), 0.0)
            for completion, scene_id in zip(completions, scene_ids):
                scores = caption_scores(completion_text(completion), scene_from_id(scene_id))
                for name in totals:
                    totals[name] += scores[name]
            for name, total in totals.items():
                log_metric(f"shapes/{name}", total / len(completions))
        return [None] * len(completions)
