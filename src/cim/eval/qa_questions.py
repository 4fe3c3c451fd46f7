"""Relation-question files for `cim eval --qa-questions`: SC-Captioner's JSON or our JSONL, detected by content.

- SC-Captioner (`evaluate_cocoln500/questions_cocoln500.json`, `evaluate_docci500/questions_docci500.json`
  in github.com/zl2048/SC-Captioner): one JSON object, image id → {question: "Yes" | "No"}.
- Ours: JSONL, one line per image, {"id": str, "questions": [{"question": str, "answer": "Yes" | "No"}, ...]}.

Questions keep their order in the file; it is the numbering the model sees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cim.errors import InputError
from cim.io import read_jsonl

Truth = Literal["Yes", "No"]
JSONL_LAYOUT = '{"id": str, "questions": [{"question": str, "answer": "Yes" | "No"}, ...]}'


class QAQuestion(BaseModel):
    """One yes/no question about an image and its ground-truth answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=1)
    answer: Truth


class QuestionsLine(BaseModel):
    """One line of our JSONL layout."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    questions: list[QAQuestion] = Field(min_length=1)


def read_questions(path: Path) -> dict[str, list[QAQuestion]]:
    """Image id → its questions, from either layout; a malformed file raises an InputError naming where."""
    path = Path(path)
    if not path.is_file():
        raise InputError("questions file not found", source=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text ({error.reason} at byte {error.start})", source=str(path)) from None
    if not text.strip():
        raise InputError("no questions (the file is empty)", source=str(path))
    try:
        whole: Any = json.loads(text)
    except json.JSONDecodeError as error:
        if _first_line_is_json(text):  # JSONL: several objects, one per line
            return _from_jsonl(path)
        raise InputError(
            f"malformed JSON: {error.msg} (line {error.lineno}, column {error.colno})", source=str(path)
        ) from None
    if isinstance(whole, dict) and not {"id", "questions"} <= set(whole):
        return _from_mapping(whole, path)
    if isinstance(whole, dict):  # a JSONL file of one line
        return _from_jsonl(path)
    raise InputError(
        f"expected a JSON object of image id → {{question: answer}} or JSONL lines {JSONL_LAYOUT}",
        source=str(path),
    )


def _first_line_is_json(text: str) -> bool:
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        return isinstance(json.loads(first), dict)
    except json.JSONDecodeError:
        return False


def _from_mapping(value: dict[str, Any], path: Path) -> dict[str, list[QAQuestion]]:
    """SC-Captioner's layout: {image id: {question: answer}}."""
    out: dict[str, list[QAQuestion]] = {}
    for image, questions in value.items():
        if not image:
            raise InputError("an image id is empty", source=str(path))
        if not isinstance(questions, dict) or not questions:
            raise InputError(
                f"image {image!r}: expected a non-empty object of question → 'Yes' | 'No'", source=str(path)
            )
        for question, answer in questions.items():
            if not question:
                raise InputError(f"image {image!r}: a question is empty", source=str(path))
            if answer not in ("Yes", "No"):
                raise InputError(
                    f"image {image!r}, question {question!r}: answer must be 'Yes' or 'No', got {answer!r}",
                    source=str(path),
                )
        out[image] = [QAQuestion(question=q, answer=a) for q, a in questions.items()]
    if not out:
        raise InputError("no questions", source=str(path))
    return out


def _from_jsonl(path: Path) -> dict[str, list[QAQuestion]]:
    """Our layout: one {"id", "questions"} object per line."""
    out: dict[str, list[QAQuestion]] = {}
    first_line: dict[str, int] = {}
    for line, value in read_jsonl(path):
        try:
            row = QuestionsLine.model_validate(value)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "line"
            raise InputError(
                f"{where}: {problem['msg']} (expected {JSONL_LAYOUT})", source=str(path), line=line
            ) from None
        if row.id in first_line:
            raise InputError(
                f"duplicate id {row.id!r} (first on line {first_line[row.id]})", source=str(path), line=line
            )
        first_line[row.id] = line
        out[row.id] = row.questions
    if not out:
        raise InputError("no questions", source=str(path))
    return out
