"""OpenRLHF over the CIM reward server: a `reward_func` file and the remote reward-model request shape.

OpenRLHF passes `queries` (prompt + response, decoded with special tokens), `prompts` and `labels`; the
dataset's label column (`--label_key`) holds the image's gallery id. Either

    --remote_rm_url http://127.0.0.1:3545/v1/openrlhf     # the server answers OpenRLHF's request itself
    --remote_rm_url $(python -c 'import cim.integrations.openrlhf as m; print(m.__file__)')  # this reward_func

(the second reads $CIM_SERVER_URL / $CIM_SERVE_TOKEN). Both return {"rewards", "scores", "extra_logs"}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cim.errors import InputError
from cim.integrations.backend import backend_for, components, score_texts, source_of
from cim.server.schemas import ScoreResult

# End-of-turn and padding tokens that trail a response decoded with special tokens.
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "</s>", "<eos>", "<pad>")


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
        raise InputError("OpenRLHF must send labels: pass --label_key with a column of gallery ids")
    for name, values in (("prompts", prompts), ("labels", labels)):
        if values is not None and len(values) != len(queries):
            raise InputError(f"{len(queries)} queries but {len(values)} {name}")
    captions = [response_text(q, None if prompts is None else prompts[i], i) for i, q in enumerate(queries)]
    sources = [source_of(label, f"query {i}", "label") for i, label in enumerate(labels)]
    return captions, sources


def reward_payload(results: Sequence[ScoreResult | None], empty_reward: float) -> dict[str, Any]:
    """OpenRLHF's answer as lists: rewards, scores (the same) and the components as extra logs."""
    rows = [components(result, empty_reward, "reward") for result in results]
    rewards = [row["reward"] for row in rows]
    logs = {f"cim_{name}": [row[name] for row in rows] for name in ("qir", "grc", "truncated")}
    return {"rewards": rewards, "scores": rewards, "extra_logs": logs}


def reward_func(queries: list[str], prompts: list[str], labels: list[Any], **_: Any) -> dict[str, Any]:
    """OpenRLHF's custom reward function (`--remote_rm_url <this file>`), scoring through the server."""
    import torch

    captions, sources = split_queries(queries, prompts, labels)
    payload = reward_payload(score_texts(backend_for(), captions, sources), 0.0)
    logs = {name: torch.tensor(values) for name, values in payload["extra_logs"].items()}
    return {"rewards": torch.tensor(payload["rewards"]), "scores": torch.tensor(payload["scores"]), "extra_logs": logs}
