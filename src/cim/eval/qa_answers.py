"""An LLM's reply to an image's numbered yes/no questions → one answer per question, scored as the release does.

Reading is lenient (case, punctuation, numbering styles, separators, explanations, n/a spellings, a thinking
block, echoed questions); scoring is exact: a slot counts only when its canonical answer ("Yes", "No" or
"n/a") equals the ground truth ("Yes" or "No"), so n/a and missing slots are wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Answer = Literal["Yes", "No", "n/a"]

_NA = (
    r"n\s*/\s*a|n\.a\.?|na|not\s+applicable|unknown|unclear|uncertain|undetermined|indeterminate|not\s+determinable"
    r"|(?:cannot|can\s*not|can't|can’t)\s+(?:be\s+)?(?:determined|determine|tell|say|know)"
    r"|not\s+(?:mentioned|stated|specified|described|given)|(?:insufficient|not\s+enough)\s+information"
)
_PHRASE = rf"(?P<na>{_NA})|(?P<yes>yes)|(?P<no>no)"
_ANSWER = rf"(?:{_PHRASE})(?![\w/])"
_LEADING = re.compile(
    rf"(?:(?:(?:the\s+)?answer(?:\s+is)?\s*[:\-–—]?|a\s*[:\-–—])\s*)?{_ANSWER}", re.IGNORECASE
)
_ONLY_ANSWERS = re.compile(rf"(?:{_ANSWER}[\s.,!&]*(?:and\s+)?)+", re.IGNORECASE)
_ANSWER_ANYWHERE = re.compile(_ANSWER, re.IGNORECASE)
_MARKER = (
    r"(?:\(\d{1,3}\)|(?:question|answer|ans|q)\.?\s*#?\s*\d{1,3}\b\s*[).:\-–—]?|#?\d{1,3}\s*[).:\-–—](?!\d))"
)
_SPLIT_AT_MARKER = re.compile(rf"(?<=[\s,])(?={_MARKER})", re.IGNORECASE)
_START_MARKER = re.compile(rf"^\s*(?:[-•>]\s*)*(?:{_MARKER}|\d{{1,3}}\s+)", re.IGNORECASE)


def strip_thinking(text: str) -> str:
    """The reply without `<think>…</think>` blocks; text before a lone `</think>` or after a lone `<think>` goes too."""
    text = re.sub(r"<think>.*?</think>", " ", text, flags=re.DOTALL | re.IGNORECASE)
    text = re.split(r"</think>", text, flags=re.IGNORECASE)[-1]
    return re.split(r"<think>", text, flags=re.IGNORECASE)[0]


def _canonical(match: re.Match[str]) -> Answer:
    return "n/a" if match.group("na") else "Yes" if match.group("yes") else "No"


def answers_in(body: str) -> list[Answer]:
    """The answers one piece of a reply gives: all of them when it holds nothing else ("Yes, No; n/a"), else
    the one it starts with ("Yes, the cat is left of the dog"), else the one after an echoed question."""
    body = body.strip().strip("\"'“”‘’[](){}:")
    if _ONLY_ANSWERS.fullmatch(body):
        return [_canonical(m) for m in _ANSWER_ANYWHERE.finditer(body)]
    for candidate in (body, body.rpartition("?")[2].strip() if "?" in body else ""):
        leading = _LEADING.match(candidate)
        if leading:
            return [_canonical(leading)]
    return []


def _segments(text: str) -> list[tuple[int | None, list[Answer]]]:
    """(question number or None, answers) for each line, ';'-piece and inline-numbered piece of a reply."""
    out = []
    for line in text.replace("*", "").replace("`", "").splitlines():
        for piece in line.split(";"):
            for segment in _SPLIT_AT_MARKER.split(piece):
                marker = _START_MARKER.match(segment)
                number = int(re.search(r"\d+", marker.group()).group()) if marker else None
                out.append((number, answers_in(segment[marker.end() :] if marker else segment)))
    return out


def parse_answers(reply: str, n_questions: int) -> list[Answer | None]:
    """One answer per question slot (None: missing). Numbered answers go to their number; an unnumbered answer
    goes to the slot after the last number seen (or the next free one) and never overrides a numbered one;
    answers beyond the question count are ignored."""
    explicit: dict[int, Answer] = {}
    implicit: dict[int, Answer] = {}
    cursor = 0
    for number, answers in _segments(strip_thinking(reply)):
        claims = explicit if number is not None else implicit
        if number is not None:
            cursor = number - 1
        for answer in answers:
            claims.setdefault(cursor, answer)
            cursor += 1
    return [explicit.get(slot, implicit.get(slot)) for slot in range(n_questions)]


@dataclass(frozen=True)
class ImageScore:
    """Counts over one image's questions."""

    questions: int
    correct: int
    truth_yes: int
    na: int
    missing: int


def score_answers(answers: Sequence[Answer | None], truth: Sequence[str]) -> ImageScore:
    """The release's rule: a slot is correct only when its answer equals the ground truth exactly."""
    if len(answers) != len(truth):
        raise ValueError(f"{len(answers)} answers for {len(truth)} questions")
    return ImageScore(
        questions=len(truth),
        correct=sum(a == t for a, t in zip(answers, truth)),
        truth_yes=sum(t == "Yes" for t in truth),
        na=sum(a == "n/a" for a in answers),
        missing=sum(a is None for a in answers),
    )


def score_reply(reply: str, truth: Sequence[str]) -> ImageScore:
    """Parse a reply to len(truth) numbered questions and score it."""
    return score_answers(parse_answers(reply, len(truth)), truth)
