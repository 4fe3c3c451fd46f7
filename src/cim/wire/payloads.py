"""Trainer payloads: the flat reward dicts the adapters return, OpenRLHF's request and response shapes.

Used by the server's /v1/openrlhf endpoint and by the adapters in `cim.integrations` alike.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from cim.errors import InputError
from cim.wire.schemas import CaptionScore

# End-of-turn and padding tokens that trail a response decoded with special tokens.
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "</s>", "<eos>", "<pad>")


def source_of(value: Any, where: str, field: str) -> str | int:
    """A gallery id (str) or gallery row (int) given by a trainer's sample."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)  # numpy integers too
    raise InputError(f"{where}: {field} must be a gallery id (str) or a gallery row (int), got {value!r}")


def components(result: CaptionScore | None, empty_reward: float, reward_key: str) -> dict[str, float]:
    """A flat dict of floats: the reward under `reward_key`, then QIR, GRC and the truncation flag."""
    if result is None:
        return {reward_key: empty_reward, "qir": empty_reward, "grc": empty_reward, "truncated": 0.0}
    return {reward_key: result.reward, "qir": result.qir, "grc": result.grc, "truncated": float(result.truncated)}


def response_text(query: str, prompt: str | None, i: int) -> str:
    """The response in a query: the text after its prompt, without trailing end and padding tokens."""
    text = query
    if prompt is not None:
        if query.startswith(prompt):
            text = query[len(prompt) :]
        elif query.lstrip().startswith(prompt.strip()):
            text = query.lstrip()[len(prompt.strip()) :]
        else:
            raise InputError(f"query {i} does not start with its prompt; cannot tell the response apart")
    text = text.rstrip()
    while marker := next((m for m in END_MARKERS if text.endswith(m)), None):
        text = text[: -len(marker)].rstrip()
    return text.strip()


def split_queries(
    queries: Sequence[str], prompts: Sequence[str] | None, labels: Sequence[Any] | None
) -> tuple[list[str], list[str | int]]:
    """Captions and gallery sources of a batch in OpenRLHF's shape."""
    if labels is None:
        raise InputError("OpenRLHF must send labels: pass --data.label_key (--label_key before 0.11) with a column of gallery ids")
    for name, values in (("prompts", prompts), ("labels", labels)):
        if values is not None and len(values) != len(queries):
            raise InputError(f"{len(queries)} queries but {len(values)} {name}")
    captions = [response_text(q, None if prompts is None else prompts[i], i) for i, q in enumerate(queries)]
    sources = [source_of(label, f"query {i}", "label") for i, label in enumerate(labels)]
    return captions, sources


def reward_payload(results: Sequence[CaptionScore | None], empty_reward: float) -> dict[str, Any]:
    """OpenRLHF's answer as lists: rewards, scores (the same) and the components as extra logs."""
    rows = [components(result, empty_reward, "reward") for result in results]
    rewards = [row["reward"] for row in rows]
    logs = {f"cim_{name}": [row[name] for row in rows] for name in ("qir", "grc", "truncated")}
    return {"rewards": rewards, "scores": rewards, "extra_logs": logs}
