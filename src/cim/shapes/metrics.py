"""Scores of stated facts against true facts, and relation question answering from a caption.

Conventions: precision of an empty prediction is 1.0 (it states nothing false); recall against an
empty truth is 1.0 (nothing to find); F1 is 0.0 when precision + recall is 0.
Two relation QAs, named apart:
- `relation_qa` (balanced): half the questions are true relations ("yes"), half reversed ones ("no");
  "unknown" scores 0.5, the expected score of a yes/no guess. It tests the direction of stated relations.
- `relation_qa_paper` (the paper's protocol): questions drawn like the official COCO-LN500 files, each "yes"
  with probability `yes_share` (0.97 there); "unknown" (the release's "n/a") scores 0. It mostly measures
  whether relations are stated at all.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from cim.errors import OptionError, check_choice
from cim.shapes.facts import Facts
from cim.shapes.scene import Scene, scene_facts, stable_seed
from cim.shapes.vocab import CANONICAL_OF, OPPOSITE, RELATIONS, canonical_relation

ANSWERS: tuple[str, ...] = ("yes", "no", "unknown")
PAPER_YES_SHARE = 0.97
"""Share of "yes" answers in the official COCO-LN500 relation questions (hand count of part of the files)."""


def _prf(predicted: frozenset, truth: frozenset) -> tuple[float, float, float]:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def fact_scores(predicted: Facts, truth: Facts) -> dict[str, float]:
    """Precision, recall and F1 per fact kind ("object_*", "attribute_*", "relation_*") and pooled ("all_*")."""
    scores: dict[str, float] = {}
    pairs = {
        "object": (predicted.objects, truth.objects),
        "attribute": (predicted.attributes, truth.attributes),
        "relation": (predicted.relations, truth.relations),
        "all": (predicted.tagged(), truth.tagged()),
    }
    for name, (p, t) in pairs.items():
        precision, recall, f1 = _prf(frozenset(p), frozenset(t))
        scores[f"{name}_precision"], scores[f"{name}_recall"], scores[f"{name}_f1"] = precision, recall, f1
    return scores


@dataclass(frozen=True)
class RelationQuestion:
    """ "Is the <a> <relation> the <b>?" with its true answer ("yes" or "no")."""

    a: str
    relation: str
    b: str
    answer: str

    def __post_init__(self) -> None:
        canonical_relation(self.a, self.relation, self.b)  # validates shapes and relation word
        check_choice("answer", self.answer, ("yes", "no"))

    @property
    def text(self) -> str:
        """The question in words."""
        return f"Is the {self.a} {self.relation} the {self.b}?"


def relation_questions(scene: Scene, n: int = 5, yes_share: float | None = None) -> list[RelationQuestion]:
    """n yes/no relation questions about `scene`, deterministic per scene id.

    Questions are over pairs whose relation on that axis is defined (different columns or rows); a "no"
    question asks the reversed relation. Balanced (yes_share None): n // 2 or n - n // 2 of them (chosen by
    the seeded rng) are "yes". With a yes_share, each question is "yes" with that probability (a separate
    seeded stream, so the balanced questions stay as they were). Distinct questions while the scene has
    enough, then repeats.
    """
    if not isinstance(n, int) or n < 1:
        raise OptionError(f"n must be a positive int, got {n!r}")
    if yes_share is not None and not 0.0 <= yes_share <= 1.0:
        raise OptionError(f"yes_share must be in [0, 1], got {yes_share!r}")
    stream = "cim.shapes.relation_questions" if yes_share is None else f"cim.shapes.relation_questions.paper.{yes_share}"
    rng = random.Random(stable_seed(stream, scene.id))
    yes, no = [], []
    for a, word, b in sorted(scene_facts(scene).relations):
        for x, w, y in ((a, word, b), (b, OPPOSITE[word], a)):
            yes.append(RelationQuestion(x, w, y, "yes"))
            no.append(RelationQuestion(x, OPPOSITE[w], y, "no"))
    if yes_share is None:
        n_yes = rng.choice(sorted({n // 2, n - n // 2}))
    else:
        n_yes = sum(rng.random() < yes_share for _ in range(n))

    def pick(pool: list[RelationQuestion], k: int) -> list[RelationQuestion]:
        chosen: list[RelationQuestion] = []
        while len(chosen) < k:
            chosen += rng.sample(pool, min(len(pool), k - len(chosen)))
        return chosen

    questions = pick(yes, n_yes) + pick(no, n - n_yes)
    rng.shuffle(questions)
    return questions


def _derivable(relations: frozenset[tuple[str, str, str]], word: str) -> set[tuple[str, str]]:
    """Pairs (a, b) with a <word> b stated or implied by transitivity (word canonical)."""
    edges: dict[str, set[str]] = {}
    for a, w, b in relations:
        if w == word:
            edges.setdefault(a, set()).add(b)
    reach: set[tuple[str, str]] = set()
    for start in edges:
        stack, seen = [start], set()
        while stack:
            for nxt in edges.get(stack.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        reach |= {(start, end) for end in seen}
    return reach


def answer_question(question: RelationQuestion, facts: Facts) -> str:
    """Answer from the facts alone: "yes" if the asked relation is stated (or follows by transitivity
    on the same axis), "no" if the opposite is, "unknown" if neither or both."""
    check_choice("relation", question.relation, RELATIONS)
    a, word, b = canonical_relation(question.a, question.relation, question.b)
    derived = _derivable(facts.relations, CANONICAL_OF[word])
    asked, opposite = (a, b) in derived, (b, a) in derived
    if asked and not opposite:
        return "yes"
    if opposite and not asked:
        return "no"
    return "unknown"


def relation_qa_accuracy(
    answers: Sequence[str], questions: Sequence[RelationQuestion], unknown_score: float = 0.5
) -> dict[str, float]:
    """{"accuracy", "unknown_fraction"}: right = 1, wrong = 0, "unknown" = `unknown_score` (0.5: a guess's
    expectation; the paper's protocol counts it 0)."""
    if len(answers) != len(questions) or not questions:
        raise ValueError(f"need as many answers as questions (> 0), got {len(answers)} and {len(questions)}")
    total = 0.0
    unknown = 0
    for answer, question in zip(answers, questions, strict=True):
        check_choice("answer", answer, ANSWERS)
        if answer == "unknown":
            total += unknown_score
            unknown += 1
        else:
            total += float(answer == question.answer)
    return {"accuracy": total / len(questions), "unknown_fraction": unknown / len(questions)}


def relation_qa(scene: Scene, facts: Facts, n: int = 5) -> dict[str, float]:
    """Balanced relation QA of a caption's facts on the scene's n questions (see `relation_qa_accuracy`)."""
    questions = relation_questions(scene, n)
    return relation_qa_accuracy([answer_question(q, facts) for q in questions], questions)


def relation_qa_paper(scene: Scene, facts: Facts, n: int = 5, yes_share: float = PAPER_YES_SHARE) -> dict[str, float]:
    """The paper's relation QA: mostly "yes" questions, "unknown" (unstated) scores 0."""
    questions = relation_questions(scene, n, yes_share)
    return relation_qa_accuracy([answer_question(q, facts) for q in questions], questions, unknown_score=0.0)


def _fact_text(fact: tuple) -> str:
    """A tagged fact (see `Facts.tagged`) in words: "a circle", "circle is red", "circle is left of square"."""
    kind, *parts = fact
    if kind == "object":
        return f"a {parts[0]}"
    if kind == "attribute":
        return f"{parts[0]} is {parts[2]}"
    return f"{parts[0]} is {parts[1]} {parts[2]}"


def fact_diff(predicted: Facts, truth: Facts) -> dict[str, list[str]]:
    """Stated facts against true facts, in words and sorted: "correct" (stated and true),
    "missing" (true, not stated) and "wrong" (stated, not true)."""
    p, t = predicted.tagged(), truth.tagged()
    return {
        "correct": sorted(_fact_text(f) for f in p & t),
        "missing": sorted(_fact_text(f) for f in t - p),
        "wrong": sorted(_fact_text(f) for f in p - t),
    }


def caption_scores(caption: str, scene: Scene) -> dict[str, float]:
    """A caption against its scene: fact precision / recall / F1 of each kind (see `fact_scores`), pooled
    `all_*`, balanced relation QA (`relation_qa`) and the paper's (`relation_qa_paper`), from the facts the
    reader finds in the caption, and the share of its sentences the reader could not read (`unread_share`)."""
    from cim.shapes.reader import read_caption

    reading = read_caption(caption)
    facts = reading.facts
    return fact_scores(facts, scene_facts(scene)) | {
        "relation_qa": relation_qa(scene, facts)["accuracy"],
        "relation_qa_paper": relation_qa_paper(scene, facts)["accuracy"],
        "unread_share": reading.unread_share,
    }
