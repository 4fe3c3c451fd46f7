"""Clauses of one sentence: which noun phrases a relation joins and which noun an attribute binds to.

`SentenceReader` interprets the items of `cim.shapes.phrases` left to right. A relation's subjects
are the noun phrases before it in its clause (or, for a relation that opens its clause and is followed
by its object and then another noun phrase, that later noun phrase: "Above the star is a circle");
its objects are the noun phrases right after it. Coordinated noun phrases ("the circle and the
square") share a relation; a relation after "and" continues the previous subjects ("left of the
square and above the star") unless a new subject follows it. Pronouns are resolved against a
`Context` shared by the sentences of one caption.
"""

from __future__ import annotations

from dataclasses import dataclass

from cim.shapes.discourse import Context
from cim.shapes.discourse import shapes_of as _shapes
from cim.shapes.facts import Facts
from cim.shapes.phrases import Attribute, Item, NounPhrase, RelationPhrase
from cim.shapes.vocab import canonical_relation

UNREAD_NO_CONTENT = "names no shape and no relation"
UNREAD_UNATTACHED = "has relation words it could not attach"


@dataclass
class _Link:
    """A relation being read: subjects and objects are shared lists that grow by coordination."""

    words: tuple[str, ...]
    subjects: list[NounPhrase] | None
    objects: list[NounPhrase] | None = None
    negated: bool = False
    front: bool = False  # the relation came before its subject: "Above the star is a circle"
    copular: bool = True  # False in "the circle left of the square (is red)": a reduced relative


class SentenceReader:
    """Interprets one sentence's items left to right (see the module docstring)."""

    def __init__(self, items: list[Item], context: Context) -> None:
        self.items, self.context = items, context
        self.links: list[_Link] = []
        self.phrases: list[NounPhrase] = []
        self.group: list[NounPhrase] | None = None  # the latest coordinated noun phrases
        self.role = ""  # the group is the "subject", "object", "front-object" or "front-subject"
        self.link: _Link | None = None  # the relation the group belongs to
        self.pending: _Link | None = None  # a relation waiting for its object
        self.strays = 0
        self.fronts: list[_Link] = []  # relations waiting for their subject
        # what came since the latest noun phrase: "and", ",", "or", "cop", "link", "relative",
        # "clause", "with", "rel", "other", "both", "ellipsis"
        self.since: set[str] = set()
        self.last: NounPhrase | None = None
        self.parallel: NounPhrase | None = None
        self.orders: list[tuple[str, list[NounPhrase]]] = []
        self.order_next: str | None = None
        self.mentions = 0
        self.unattached = False
        self.predicated = False  # a verb, relation or predicate followed the group
        self.subject_group: list[NounPhrase] | None = None  # the latest clause subject
        self.subject_values: list[Attribute] = []  # and the predicate adjectives it got

    def kind(self, k: int) -> str | None:
        return self.items[k][0] if 0 <= k < len(self.items) else None

    def joined(self) -> bool:
        """Whether "and" or a comma, and no verb or clause break, came since the latest noun phrase."""
        breaks = {"with", "relative", "clause", "cop", "link", "other", "rel"}
        return bool(self.since & {"and", ","}) and not self.since & breaks

    def read(self) -> tuple[Facts, bool, str]:
        """(facts, read?, reason) of the sentence."""
        for k, (kind, value) in enumerate(self.items):
            getattr(self, f"on_{kind}")(k, value)
        self.cancel_pending()
        self.unattached |= any(link.words and link.subjects is None for link in self.links)
        facts = self.facts()
        if self.unattached:
            return facts, False, UNREAD_UNATTACHED
        if not self.mentions and not facts.relations:
            return facts, False, UNREAD_NO_CONTENT
        return facts, True, ""

    # --- noun phrases -------------------------------------------------------------------------
    def on_np(self, k: int, phrase: NounPhrase) -> None:
        if phrase.kind == "frame":  # a position in the frame: "at the top of the image"
            if self.pending is not None:
                self.drop(self.pending)
            return
        phrases = self.resolve(
            phrase, self.pending is not None, self.pending.subjects if self.pending else None
        )
        if not phrases:
            self.cancel_pending()
            return
        for p in phrases:
            self.register(p)
        if "ellipsis" in self.since and self.subject_group is not None:  # "and so is the star"
            for p in phrases:
                p.attributes.extend(self.subject_values)
            self.subject_group.extend(phrases)
            self.last, self.since = phrases[-1], set()
            return
        if self.pending is not None:
            link, self.pending = self.pending, None
            link.objects = phrases
            if phrase.kind != "pronoun":  # a later object "it" is no longer the earlier one's
                self.parallel = None
            self.set_group(phrases, "front-object" if link.front else "object", link)
        elif self.role in ("object", "front-object") and self.appositive():  # "above the two shapes: a, b"
            self.group.extend(phrases)  # type: ignore[union-attr]
        elif self.group is not None and self.joined() and self.coordinates(k):
            if "or" in self.since:  # "above the circle or the square" states neither
                for p in (self.group[-1], *phrases):
                    p.uncertain = True
            self.group.extend(phrases)
        elif self.fronts and self.role == "front-object":
            for link in self.fronts:
                link.subjects = phrases
            self.fronts = []
            self.set_group(phrases, "front-subject", None)
        elif self.predicate_noun(phrase):
            for target in self.group or []:
                target.attributes.extend(phrase.attributes)
        else:
            self.set_group(phrases, "subject", None)
        self.last, self.since = phrases[-1], set()

    def appositive(self) -> bool:
        """Whether the group is "the shapes" followed by a colon, so the next nouns name them."""
        group = self.group or []
        return bool(group) and "link" in self.since and all(p.kind == "generic" and p.plural for p in group)

    def predicate_noun(self, phrase: NounPhrase) -> bool:
        """ "The cross is a large red one": a generic noun after a copula describes the subject."""
        return (
            phrase.kind == "generic" and not phrase.plural and bool(phrase.attributes) and "cop" in self.since
            and self.group is not None and self.role in ("subject", "front-subject")
        )  # fmt: skip

    def register(self, phrase: NounPhrase) -> None:
        if phrase.kind == "generic":
            self.mentions += 1
            if phrase.plural and phrase.attributes and not phrase.negated:  # "two small shapes"
                self.context.add_collective(phrase.attributes, forward=True)
        elif phrase.shape:
            self.mentions += 1
            self.phrases.append(phrase)
            if not phrase.negated:
                self.context.history.append(phrase)

    def set_group(self, group: list[NounPhrase], role: str, link: _Link | None) -> None:
        self.group, self.role, self.link = group, role, link
        self.predicated = False
        self.context.groups.append(group)
        if role in ("subject", "front-subject") and _shapes(group):
            self.context.subject = group
            self.subject_group, self.subject_values = group, []
        if role == "subject" and self.order_next:
            self.orders.append((self.order_next, group))
            self.order_next = None

    def coordinates(self, k: int) -> bool:
        """Whether the noun phrase items[k], after "and" or a comma, joins the current group."""
        if self.role == "subject":  # "big plus, big circle to its right": a new terse clause
            return not self.predicated and not (self.since == {","} and self.kind(k + 1) == "rel")
        if self.role == "front-object" and "and" not in self.since:  # "Above the star, a circle"
            return False
        if self.role == "front-subject" and {"and", ","} <= self.since:
            return False
        if self.since == {","} and not self.and_follows(k + 1):  # "a disc below it, a star BR"
            return False
        return not self.starts_clause(k + 1, front=self.role == "front-object")

    def and_follows(self, j: int) -> bool:
        """Whether "and" + a noun phrase ends the list items[j:] ("the square, the star and the cross")."""
        while j < len(self.items) and self.kind(j) in ("np", "and", "other", "post"):
            if self.items[j] == ("and", "and") and self.kind(j + 1) == "np":
                return True
            j += 1
        return False

    def starts_clause(self, j: int, front: bool) -> bool:
        """Whether a verb, relation or predicate follows (a new clause) before a break."""
        while j < len(self.items):
            kind, value = self.items[j]
            if kind == "break" and value == "relative":
                j = self.skip_relative(j)
                continue
            if kind == "cop" and front and self.kind(j + 1) == "np":  # "... and the star sits a cross"
                return False
            if kind in ("cop", "pred", "link") or (kind == "rel" and value.complete):  # type: ignore[attr-defined]
                return True
            if kind == "break":
                return False
            j += 1
        return False

    def skip_relative(self, j: int) -> int:
        """The index after a relative clause "which is red" / "that is above the star"."""
        j += 1 + (self.kind(j + 1) == "cop")
        if self.kind(j) == "pred":
            return j + 1
        if self.kind(j) == "rel":
            j = self.skip_group(j + 1)
        return j

    def skip_group(self, j: int) -> int:
        """The index after the noun phrases at j joined by "and"/"or" ("the square and the star");
        a comma does not join here: "Below it, a green diamond"."""
        if self.kind(j) == "np":
            j += 1
            while self.kind(j) == "and" and self.items[j][1] != "," and self.kind(j + 1) == "np":
                j += 2
        return j

    def resolve(
        self, phrase: NounPhrase, as_object: bool, exclude: list[NounPhrase] | None
    ) -> list[NounPhrase]:
        """The shapes a pronoun stands for ([] if none); other noun phrases stand for themselves."""
        if phrase.kind != "pronoun":
            return [phrase]
        phrases = self.context.resolve(phrase, as_object, _shapes(exclude or []), self.parallel)
        if as_object and phrase.pronoun == "it":
            self.parallel = phrases[0] if phrases else None
        return phrases

    # --- relations ----------------------------------------------------------------------------
    def on_rel(self, k: int, rel: RelationPhrase) -> None:
        self.cancel_pending()
        self.predicated |= "relative" not in self.since
        if not rel.complete:
            self.implied(k, rel)
            self.since = {"rel"}
            return
        subjects, front = self.subjects_for(k)
        copular = bool(self.since & {"cop", "link", "relative"}) or front
        self.since = {"rel"}
        link = _Link(rel.words, subjects, negated=rel.negated, front=front, copular=copular)
        self.links.append(link)
        if front:
            self.fronts.append(link)
        if rel.possessor is None:
            self.pending, self.strays = link, 0
            return
        phrases = [] if rel.possessor.kind == "frame" else self.resolve(rel.possessor, True, subjects)
        if not phrases:
            self.unattached |= rel.possessor.kind != "frame"
            self.drop(link)
            return
        for p in phrases:
            self.register(p)
        link.objects = phrases
        self.set_group(phrases, "front-object" if front else "object", link)
        self.since = set()

    def subjects_for(self, k: int) -> tuple[list[NounPhrase] | None, bool]:
        """(subjects, front?) of the relation items[k]; subjects None when they come later."""
        if "relative" in self.since and self.last is not None:
            return [self.last], False
        if self.group is None or "with" in self.since:  # "The cross has a neighbour on its right: a star"
            return None, True
        if not self.since & {"and", ",", "clause", "link"}:
            if head := self.head():
                return head, False
            if len(self.group) > 1 and not self.since & {"cop", "both"}:  # "..., and a triangle under it"
                return self.group[-1:], False
            return self.group, False
        if self.is_front(k):
            return None, True
        if self.role in ("object", "front-object") and self.link is not None:
            if self.link.subjects is None:  # "To the left of X, and above Y, sits Z"
                return None, True
            return self.link.subjects, False
        return self.group, False

    def head(self) -> list[NounPhrase] | None:
        """ "The circle left of the square is red": after a reduced relative, the verb is the head's."""
        link = self.link
        if self.role == "object" and link and not link.copular and link.subjects and "cop" in self.since:
            return link.subjects
        return None

    def is_front(self, k: int) -> bool:
        """Whether the relation items[k] comes before its subject: object, then a subject noun."""
        j = k + 1
        if self.items[k][1].possessor is None:  # type: ignore[attr-defined]
            if self.kind(j) != "np" or self.items[j][1].kind == "generic":  # type: ignore[attr-defined]
                return False  # "above the two shapes of the middle row: a, b" lists its objects
            j = self.skip_group(j)
        return self.subject_follows(j)

    def subject_follows(self, j: int) -> bool:
        """Whether a noun phrase follows items[j:] after only commas, verbs and side phrases."""
        while j < len(self.items):
            kind, value = self.items[j]
            if kind == "np" and value.kind != "frame":  # type: ignore[attr-defined]
                return True
            if kind == "rel":
                j = self.skip_group(j + 1)
                continue
            if kind not in ("other", "cop", "link", "post", "np") and not (kind == "and" and value == ","):
                return False
            j += 1
        return False

    def implied(self, k: int, rel: RelationPhrase) -> None:
        """ "lower than the star and further to the right": the previous object, the same subjects.
        Not when a new subject follows ("..., and further to the left, a cross"): its object is unsaid."""
        base = self.link
        if base is None or self.role not in ("object", "front-object") or not self.joined():
            return
        if not base.front and self.subject_follows(k + 1):
            return
        link = _Link(rel.words, base.subjects, base.objects, rel.negated, base.front)
        self.links.append(link)
        if base.front and base.subjects is None:
            self.fronts.append(link)

    def drop(self, link: _Link) -> None:
        if link in self.links:
            self.links.remove(link)
        if link in self.fronts:
            self.fronts.remove(link)
        if self.pending is link:
            self.pending = None

    def cancel_pending(self) -> None:
        """A relation whose object did not follow is not attached."""
        if self.pending is not None:
            self.unattached |= bool(self.pending.words)
            self.drop(self.pending)

    # --- attributes and connectors ------------------------------------------------------------
    def on_pred(self, k: int, value: tuple[list[Attribute], bool]) -> None:
        attributes, collective = value
        self.predicated |= "relative" not in self.since
        if "relative" in self.since and self.last is not None:
            target = [self.last]
        elif self.role in ("object", "front-object") and self.since & {"and", ",", "clause"} and self.link:
            target = self.link.subjects or []
        else:
            target = self.head() or self.group or []
        if (collective and not target) or (target and all(p.kind == "generic" and p.plural for p in target)):
            self.context.add_collective(attributes, forward=False)
            return
        kinds = {kind for kind, _ in attributes}
        if len(kinds) == 1 and len(set(attributes)) == len(target) > 1:  # "are red and blue (respectively)"
            for phrase, attribute in zip(target, attributes, strict=True):
                phrase.attributes.append(attribute)
            return
        for phrase in target:
            phrase.attributes.extend(attributes)
        if target is self.subject_group:
            self.subject_values += attributes

    def on_post(self, k: int, attributes: list[Attribute]) -> None:
        if self.last is None:
            return
        if self.last.kind == "generic" and self.last.plural:
            self.context.add_collective(attributes, forward=True)
        self.last.attributes.extend(attributes)

    def on_cop(self, k: int, word: str) -> None:
        self.cancel_pending()
        self.since.add("cop")
        self.predicated |= "relative" not in self.since

    def on_both(self, k: int, word: str) -> None:
        self.since.add("both")

    def on_ellipsis(self, k: int, word: str) -> None:
        self.cancel_pending()
        self.since = {"ellipsis"}

    def on_link(self, k: int, word: str) -> None:
        self.cancel_pending()
        self.since.add("link")

    def on_and(self, k: int, word: str) -> None:
        self.cancel_pending()
        if "relative" in self.since:  # "the cross, which is red, and below it ...": the clause ended
            self.since = set()
        self.since.add("," if word == "," else "and")
        if word in ("or", "/"):
            self.since.add("or")

    def on_break(self, k: int, kind: str) -> None:
        self.cancel_pending()
        self.since.add(kind)

    def on_order(self, k: int, word: str) -> None:
        if self.group is not None and len(_shapes(self.group)) >= 2:
            self.orders.append((word, self.group))
        else:
            self.order_next = word

    def on_other(self, k: int, word: str) -> None:
        if self.pending is None:
            self.since.add("other")  # "a circle, green like the cross": no coordination
            return
        self.strays += 1
        if self.strays > 2:
            self.cancel_pending()

    # --- facts --------------------------------------------------------------------------------
    def facts(self) -> Facts:
        relations: set[tuple[str, str, str]] = set()
        for link in self.links:
            if link.negated or not link.words or not link.subjects or not link.objects:
                continue
            if any(p.uncertain for p in link.subjects + link.objects):
                continue
            for a in _shapes(link.subjects):
                for b in _shapes(link.objects) - {a}:
                    relations |= {canonical_relation(a, word, b) for word in link.words}
        for word, group in self.orders:
            ordered = list(dict.fromkeys(p.shape for p in group if p.shape and not p.negated))
            for i, a in enumerate(ordered):
                relations |= {canonical_relation(a, word, b) for b in ordered[i + 1 :]}
        named = [p for p in self.phrases if not p.negated]
        objects = {p.shape for p in named}
        attributes = {(p.shape, kind, value) for p in named for kind, value in p.attributes}
        return Facts(frozenset(objects), frozenset(attributes), frozenset(relations)).closed()  # type: ignore[arg-type]
