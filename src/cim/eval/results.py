"""Typed results of `cim eval`: per-file metric intervals and paired comparisons (JSON through pydantic)."""

from __future__ import annotations

from pydantic import BaseModel

from cim.reward.options import ScorerOptions


class Interval(BaseModel):
    """A metric's mean over captions with its 95% bootstrap interval, over n captions."""

    mean: float
    low: float
    high: float
    n: int


class Difference(BaseModel):
    """Mean of (candidate − baseline) over paired captions, its 95% interval and two-sided p-value."""

    difference: float
    low: float
    high: float
    p_value: float
    significant: bool


class Comparison(BaseModel):
    """A caption file against the first one (the baseline), metric by metric."""

    baseline: str
    candidate: str
    metrics: dict[str, Difference]


class RelationQALLM(BaseModel):
    """The paper's relation QA for one caption file: a text-only LLM answered each image's questions from the
    caption alone; a question counts only when the answer equals the ground truth (n/a and missing are wrong)."""

    model: str
    questions_file: str
    images: int  # captions of this file that have questions
    images_without_caption: int  # images of the questions file this file has no caption for
    questions: int
    accuracy: float  # correct answers / questions
    yes_share: float  # ground-truth "Yes" / questions
    na_share: float  # n/a answers / questions
    missing_share: float  # questions the reply gave no answer for / questions


class Evaluation(BaseModel):
    """Everything `cim eval` measured: the scorer's options, each file's metrics, the paired comparisons."""

    reward: ScorerOptions
    gallery: str
    resamples: int
    files: dict[str, dict[str, Interval]]
    comparisons: list[Comparison] = []
    capture_skipped: str | None = None  # why CAPTURE did not run, when references were given
    # the paper's LLM relation QA per caption file, with --qa-questions and --qa-model
    relation_qa_llm: dict[str, RelationQALLM] | None = None
