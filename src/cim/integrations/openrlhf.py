"""OpenRLHF over the CIM reward server: a `reward_func` file and the remote reward-model request shape.

OpenRLHF passes `queries` (prompt + response, decoded with special tokens), `prompts` and `labels`; the
dataset's label column (`--data.label_key` in OpenRLHF 0.11, `--label_key` before) holds the image's gallery id.
Either (0.11's flag; `--remote_rm_url` before)

    --reward.remote_url http://127.0.0.1:3545/v1/openrlhf     # the server answers OpenRLHF's request itself
    --reward.remote_url $(python -c 'import cim.integrations.openrlhf as m; print(m.__file__)')  # this reward_func

(the second reads $CIM_SERVER_URL / $CIM_SERVE_TOKEN). Both return {"rewards", "scores", "extra_logs"}.
"""

from __future__ import annotations

from typing import Any

from cim.integrations.backend import backend_for, score_texts
from cim.wire.payloads import reward_payload, split_queries


def reward_func(queries: list[str], prompts: list[str], labels: list[Any], **_: Any) -> dict[str, Any]:
    """OpenRLHF's custom reward function (`--reward.remote_url <this file>`), scoring through the server."""
    import torch

    captions, sources = split_queries(queries, prompts, labels)
    payload = reward_payload(score_texts(backend_for(), captions, sources), 0.0)
    logs = {name: torch.tensor(values) for name, values in payload["extra_logs"].items()}
    return {"rewards": torch.tensor(payload["rewards"]), "scores": torch.tensor(payload["scores"]), "extra_logs": logs}
