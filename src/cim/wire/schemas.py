"""Wire formats of the reward: the score record and the server's request and response bodies (pydantic only).

The scorer returns `CaptionScore`s; the server sends them as they are; the client and adapters read them back.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

SOURCE_FIELDS = ("source_id", "index", "image_b64", "image_path")


class ScoreItem(BaseModel):
    """One caption and its source image: exactly one of the four source fields."""

    model_config = ConfigDict(extra="forbid")

    caption: StrictStr = Field(description="The caption to score (the retrieval query).")
    source_id: StrictStr | None = Field(None, description="Gallery id of the source image.")
    index: StrictInt | None = Field(None, description="Gallery row of the source image (the release's key).")
    image_b64: StrictStr | None = Field(None, description="The source image file (PNG, JPEG …) as base64.")
    image_path: StrictStr | None = Field(
        None, description="A path inside the server's --image-root; refused when the server has none."
    )

    @model_validator(mode="after")
    def _one_source(self) -> ScoreItem:
        given = [name for name in SOURCE_FIELDS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one source field of {', '.join(SOURCE_FIELDS)}; got {given or 'none'}")
        return self


class ScoreRequest(BaseModel):
    """A batch of captions to score; `k` defaults to the server's."""

    model_config = ConfigDict(extra="forbid")

    items: list[ScoreItem]
    k: StrictInt | None = Field(None, ge=1, description="Retrieved items per caption (up to the server's max_k).")


class CaptionScore(BaseModel):
    """The reward of one caption and what it retrieved."""

    reward: float
    qir: float
    grc: float
    retrieved_ids: list[str]
    text_sims: list[float]
    image_sims: list[float]
    n_tokens: int
    truncated: bool
    support: float | None = None  # visual support in [0, 1] when the scorer's `support` weight is on
    relation_votes: float | None = None  # the neighbours' votes on the caption's relation directions when `relation_votes` is on
    redundancy: float | None = None  # share of sentences stating no new fact when the `redundancy` penalty is on


class ScoreResponse(BaseModel):
    results: list[CaptionScore]
    k: int
    mode: str


class CimRequest(BaseModel):
    """The release's /cim body: the rollout's text, the gallery row of its image and k."""

    response: StrictStr
    index: StrictInt
    k: StrictInt | None = Field(None, ge=1, description="Retrieved items (the server's k when omitted).")


class OpenRLHFRequest(BaseModel):
    """OpenRLHF's remote reward-model request (`--reward.remote_url`): prompt+response texts, prompts, labels.

    Each label is the source image's gallery id (str) or gallery row (int).
    """

    query: list[StrictStr]
    prompts: list[StrictStr] | None = None
    labels: list[StrictStr | StrictInt] | None = None


class OpenRLHFResponse(BaseModel):
    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]


class Health(BaseModel):
    status: str
    gallery_rows: int
    k: int
    max_k: int
    mode: str
    max_batch: int
    queue_items: int
