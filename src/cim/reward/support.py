"""Visual support: how much of what a caption claims the captions of the source image's gallery neighbours state.

The CIM reward asks whether a caption *retrieves* items like the source; nothing in it asks whether each
thing the caption says is in the image, so a policy can add a plausible object that the retrieval does not
punish. Visual support is a reference-free check at the fact level: the source image's m nearest gallery
images (by image embedding) stand in for references; each claim of the caption (an object or attribute tuple
from the fact extractor) earns credit min(1, share / τ), where share is the fraction of those m neighbours
whose caption states it; the caption's support is the mean credit of its claims (1 when it claims nothing).
Optionally support also asks the other way round (coverage weight c): of the facts at least τ of the neighbours
state (their consensus), which share does the caption claim? Support is then (1 − c)·credit + c·coverage.
The reward adds λ·(support − 1): nothing for a fully supported caption, down to −λ.

Relation votes ask the same neighbours which way each relation the caption states points: a claimed
(s, r, o) earns (n − n′)/(n + n′ + 1), where n neighbours' captions state it and n′ state its reverse (o, r, s).
The votes are summed over the caption's distinct relation claims, so a caption gains by stating relations
the neighbours back up and loses by stating them backwards; one nobody states is worth nothing. The reward
adds ρ·votes. Unlike a claim's credit, a vote does not cost a true relation that few neighbours mention.
With votes per "neighbours" a claim earns (n − n′)/m instead, the net share of all m neighbours backing it, so
a relation one neighbour states and none reverses earns 1/m rather than 1/2: leaning guesses earn little.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from cim.gallery.store import Gallery
from cim.index.registry import make_index
from cim.reward.extractors import FactTuple
from cim.reward.gallery_facts import GalleryFacts

CLAIM_KINDS = {"objects": ("object",), "objects+attributes": ("object", "attribute"), "objects+relations": ("object", "relation")}
"""Which tuple kinds count as claims (option `support_claims`)."""


Tau = float | Mapping[str, float]
"""τ, one for every claim kind or one per kind ("object", "attribute", "relation")."""


def tau_of(tau: Tau, kind: str) -> float:
    return tau if isinstance(tau, float | int) else tau[kind]


def claim_credit(claims: Sequence[FactTuple], neighbours: Sequence[frozenset[FactTuple]], tau: Tau) -> float:
    """Mean over claims of min(1, share of neighbours stating the claim / τ of its kind); 1 when there is no claim."""
    if not claims:
        return 1.0
    if not neighbours:
        return 0.0
    shares = [sum(claim in facts for facts in neighbours) / len(neighbours) for claim in claims]
    return float(np.mean([min(1.0, share / tau_of(tau, claim[0])) for claim, share in zip(claims, shares)]))


def consensus_coverage(claims: Sequence[FactTuple], neighbours: Sequence[frozenset[FactTuple]], kinds: Sequence[str],
                       tau: Tau) -> float:  # fmt: skip
    """Share of the facts of `kinds` stated by at least τ (of its kind) of the neighbours that are among the claims;
    1 when the neighbours agree on no fact (or there are none)."""
    if not neighbours:
        return 1.0
    counts = Counter(t for facts in neighbours for t in facts if t[0] in kinds)
    consensus = {t for t, n in counts.items() if n / len(neighbours) >= tau_of(tau, t[0])}
    return len(consensus.intersection(claims)) / len(consensus) if consensus else 1.0


def relation_votes(claims: Sequence[FactTuple], neighbours: Sequence[frozenset[FactTuple]], per: str = "mentions") -> float:
    """Σ over the distinct relation claims (s, r, o) of (n − n′)/(n + n′ + 1), or of (n − n′)/m with `per`
    "neighbours": n of the m neighbours state it, n′ state (o, r, s)."""
    total = 0.0
    for claim in set(claims) if neighbours else ():
        if claim[0] != "relation":
            continue
        reverse = ("relation", claim[3], claim[2], claim[1])
        n, n_reverse = (sum(fact in facts for facts in neighbours) for fact in (claim, reverse))
        total += (n - n_reverse) / (n + n_reverse + 1 if per == "mentions" else len(neighbours))
    return total


class VisualSupport:
    """Support of captions by the captions of their sources' nearest gallery images."""

    def __init__(self, gallery: Gallery, facts: GalleryFacts, neighbours: int, tau: Tau, claims: str,
                 index: str = "exact", device: str | None = None, coverage: float = 0.0, votes_per: str = "mentions") -> None:  # fmt: skip
        self.facts = facts
        self.votes_per = votes_per
        self.neighbours = min(neighbours, len(gallery) - 1)
        self.tau = tau
        self.kinds = CLAIM_KINDS[claims]
        self.coverage = coverage
        self.index = make_index(index, gallery.image_emb, device=device)

    def neighbour_rows(self, sources: torch.Tensor, exclude: torch.Tensor) -> torch.Tensor:
        """(b, m) gallery rows nearest each L2-normalised source embedding, never the excluded row; each distinct
        source is searched once (a GRPO batch holds each image once per completion of its group)."""
        keys = torch.cat([sources.double(), exclude.unsqueeze(1).double()], dim=1)  # float64 holds any row exactly
        distinct, inverse = torch.unique(keys, dim=0, return_inverse=True)
        rows = self.index.search(distinct[:, :-1].float().contiguous(), self.neighbours, distinct[:, -1].long())[1]
        return rows[inverse]

    def evidence(self, captions: Sequence[str], sources: torch.Tensor, exclude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(support, relation votes), each (b,): support of each caption by its source's neighbours, in [0, 1],
        and the neighbours' votes on the direction of its relation claims."""
        rows = self.neighbour_rows(sources, exclude)
        found = self.facts.rows([r for r in rows.flatten().tolist() if r >= 0])
        support, votes = [], []
        for stated, row in zip(self.facts.extractor.extract(list(captions)), rows.tolist()):
            claims, neighbours = [t for t in sorted(stated) if t[0] in self.kinds], [found[r] for r in row if r >= 0]
            value = claim_credit(claims, neighbours, self.tau)
            if self.coverage:
                value = (1 - self.coverage) * value + self.coverage * consensus_coverage(claims, neighbours, self.kinds, self.tau)
            support.append(value)
            votes.append(relation_votes(list(stated), neighbours, self.votes_per))
        return torch.tensor(support, dtype=torch.float32), torch.tensor(votes, dtype=torch.float32)
