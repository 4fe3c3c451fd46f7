"""CIMScorer: the one implementation of the CIM reward over a gallery.

Per batch: one text-encoder pass, one search, one gather of retrieved image embeddings. With a re-ranker
(`rerank` other than "none"), the search returns a shortlist of K' ≥ 10·k rows by cosine and the re-ranker's
relevance picks the k of them that QIR and GRC are computed on.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from cim.encoders.backends import Backend, parse_backend, with_backend
from cim.encoders.base import ImageEncoder, TextEmbedding, TextEncoder
from cim.encoders.registry import load_image_encoder, load_text_encoder
from cim.errors import InputError, OptionError
from cim.gallery.manifest import TextEncoderInfo, check_encoder
from cim.gallery.store import Gallery
from cim.index.registry import make_index
from cim.reward.extractors import FactExtractor, load_extractor
from cim.reward.formulas import cim_reward, grc, image_similarities, qir
from cim.reward.gallery_facts import GalleryFacts
from cim.reward.options import ScorerOptions
from cim.reward.query import without_repeats
from cim.reward.redundancy import redundant_shares
from cim.reward.rerank import make_reranker, shortlist_size
from cim.reward.sources import Source, SourceEmbeddingCache
from cim.reward.support import VisualSupport
from cim.wire import CaptionScore


class CIMScorer:
    """Score captions against their source images: Υ = GRC + β·QIR over the top-k retrieved items.

    A source is a gallery id (str), an image file (pathlib.Path) or a PIL image. In "clean" mode
    (default) a source's own gallery item is never retrieved; "official" reproduces the release,
    which looks the source up by gallery row and does not exclude it.

    `extractor` replaces the fact extractor `options.extractor` names (e.g. one built with other generation
    settings); its `spec` must be that name.
    """

    def __init__(
        self,
        gallery: Gallery | str | Path,
        options: ScorerOptions | None = None,
        *,
        text_encoder: TextEncoder | None = None,
        image_encoder: ImageEncoder | None = None,
        extractor: FactExtractor | None = None,
        device: str | None = None,
    ) -> None:
        self.gallery = gallery if isinstance(gallery, Gallery) else Gallery.load(gallery)
        self.options = options or ScorerOptions()
        self._check_k(self.options.k)
        manifest = self.gallery.manifest
        if text_encoder is None:
            text_encoder = load_text_encoder(self._text_spec(), device=device)
        elif self.options.text_backend is not None:
            self._check_backend_option(text_encoder)
        check_encoder("text", manifest.text_encoder, text_encoder.describe(), self.options.allow_backend_mismatch)
        if image_encoder is not None:
            check_encoder("image", manifest.image_encoder, image_encoder.describe())
        self.text_encoder = text_encoder
        self.sources = SourceEmbeddingCache(lambda: image_encoder or self._load_image_encoder(device))
        cache_dir = self.gallery.path / "index" if os.access(self.gallery.path, os.W_OK) else None
        retrieval = self.options.retrieval
        self.index = make_index(
            self.options.index, self._retrieval_matrix(), device=device, cache_dir=cache_dir,
            cache_key=f"{retrieval}-{manifest.content_hash}",
        )  # fmt: skip
        self._image_mean = self._gallery_image_mean() if self.options.center_images else None
        if extractor is not None and extractor.spec != self.options.extractor:
            raise OptionError(f"the extractor given is {extractor.spec!r} but option 'extractor' is {self.options.extractor!r}")
        if extractor is None and self.options.uses_extractor():
            extractor = load_extractor(self.options.extractor, device=device)  # one extractor for re-ranker, support, redundancy
        self.extractor = extractor
        self.reranker = make_reranker(self.options, self.gallery, device=device, extractor=extractor)
        self.support = None if not self.options.uses_neighbours() else VisualSupport(
            self.gallery, GalleryFacts(self.gallery, extractor), self.options.support_neighbours,
            self.options.support_taus(), self.options.support_claims, self.options.index, device, self.options.support_coverage,
            self.options.relation_votes_per,
        )  # fmt: skip

    def _text_spec(self) -> str:
        """The caption encoder to load: the gallery's, on `text_backend` if set (checked before anything loads)."""
        info = self.gallery.manifest.text_encoder
        backend = parse_backend(self.options.text_backend) if self.options.text_backend else Backend(info.backend, info.precision)
        wanted = {**info.model_dump(), "backend": backend.name, "precision": backend.precision}
        check_encoder("text", info, wanted, self.options.allow_backend_mismatch)
        return with_backend(info.spec, backend)

    def _check_backend_option(self, text_encoder: TextEncoder) -> None:
        info = TextEncoderInfo.model_validate(text_encoder.describe())
        given = str(Backend(info.backend, info.precision))
        if given != self.options.text_backend:
            raise OptionError(f"the text encoder given runs on {given!r} but option 'text_backend' is {self.options.text_backend!r}")

    def _retrievable(self) -> int:
        """Rows one caption can retrieve: all but its own item in clean mode."""
        return len(self.gallery) - (1 if self.options.mode == "clean" else 0)

    def _check_k(self, k: int) -> None:
        mode, limit = self.options.mode, self._retrievable()
        if k > limit:
            raise InputError(f"k={k} is larger than the {limit} gallery items a caption can retrieve in {mode} mode")

    def with_k(self, k: int) -> CIMScorer:
        """A scorer retrieving k items that shares this one's gallery, encoders, source cache and index."""
        options = self.options.replace(k=k)
        self._check_k(k)
        scorer = copy.copy(self)
        scorer.options = options
        return scorer

    def _load_image_encoder(self, device: str | None) -> ImageEncoder:
        info = self.gallery.manifest.image_encoder
        encoder = load_image_encoder(info.spec, info.pooling, info.image_size, device)
        check_encoder("image", info, encoder.describe())
        return encoder

    def _retrieval_matrix(self) -> np.ndarray:
        if self.options.retrieval == "text":
            return self.gallery.text_emb
        text, image = self.gallery.manifest.text_encoder, self.gallery.manifest.image_encoder
        if text.spec != image.spec or text.dim != image.dim or image.pooling != "global":
            raise InputError(
                "text→image retrieval needs one encoder for both modalities (e.g. hf-clip or openclip) "
                f"with global pooling; this gallery has text {text.spec!r} and image {image.spec!r} "
                f"({image.pooling} pooling)"
            )
        return self.gallery.image_emb

    def _gallery_image_mean(self, chunk: int = 65_536) -> torch.Tensor:
        emb = self.gallery.image_emb
        total = sum(np.asarray(emb[i : i + chunk], dtype=np.float64).sum(0) for i in range(0, len(emb), chunk))
        return torch.from_numpy(total / len(emb)).float()

    def _image_space(self, vectors: torch.Tensor) -> torch.Tensor:
        """ṽ(·): renormalise (fp16 storage) and optionally centre on the gallery mean first."""
        if self._image_mean is not None:
            vectors = vectors - self._image_mean
        return F.normalize(vectors.float(), dim=-1)

    def _resolve_sources(self, sources: Sequence[Source]) -> tuple[torch.Tensor, torch.Tensor]:
        """Source embeddings (b, d) and the gallery row each query must not retrieve (-1: none)."""
        rows = torch.full((len(sources),), -1, dtype=torch.int64)
        vectors: list[torch.Tensor | None] = [None] * len(sources)
        images: list[tuple[int, Path | Image.Image]] = []
        for i, source in enumerate(sources):
            if isinstance(source, str):
                rows[i] = self.gallery.row(source)
                vectors[i] = torch.from_numpy(np.asarray(self.gallery.image_emb[rows[i].item()], dtype=np.float32))
            elif isinstance(source, (Path, Image.Image)):
                if self.options.mode == "official":
                    raise InputError(f"source {i}: official mode looks sources up by gallery id; got an image")
                images.append((i, source))
            else:
                raise InputError(
                    f"source {i}: expected a gallery id (str), an image path (pathlib.Path) or a PIL image, "
                    f"got {type(source).__name__}"
                )
        if images:
            for (i, _), vector in zip(images, self.sources.embed([src for _, src in images], self.options.encode_batch)):
                vectors[i] = vector
        exclude = rows if self.options.mode == "clean" else torch.full_like(rows, -1)
        return torch.stack(vectors), exclude

    def encode(self, captions: Sequence[str]) -> TextEmbedding:
        """Validate and embed captions as retrieval queries (one encoder pass); with `dedupe_sentences`,
        repeated sentences are dropped first (token counts are then those of the query)."""
        for i, caption in enumerate(captions):
            if not isinstance(caption, str) or not caption.strip():
                raise InputError(f"caption {i} is empty or not a string")
        queries = [without_repeats(c) for c in captions] if self.options.dedupe_sentences else list(captions)
        return self.text_encoder.encode(queries, batch_size=self.options.encode_batch)

    def score(self, captions: Sequence[str], sources: Sequence[Source]) -> list[CaptionScore]:
        """Score each caption against its source; one encoder pass and one search per call."""
        if len(captions) != len(sources):
            raise InputError(f"{len(captions)} captions but {len(sources)} sources")
        return self.score_encoded(self.encode(captions), sources, captions)

    @staticmethod
    def _check_texts(captions: Sequence[str] | None, n: int, needed_by: str) -> None:
        if captions is None or len(captions) != n:
            raise InputError(f"{needed_by} needs the captions' texts: pass them to score_encoded(text, sources, captions)")

    def _retrieve(
        self, text: TextEmbedding, exclude: torch.Tensor, captions: Sequence[str] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(cosines, rows), both (b, k): the top k by cosine, or by the re-ranker's relevance over a shortlist."""
        k = self.options.k
        if self.reranker is None:
            return self.index.search(text.vectors, k, exclude)
        self._check_texts(captions, len(text.vectors), "re-ranking")
        cosines, rows = self.index.search(text.vectors, shortlist_size(self.options, self._retrievable()), exclude)  # (b, K')
        relevance = self.reranker.relevance(captions, cosines, rows)  # (b, K') float64
        # Most relevant first; among equal relevance the lower gallery row (a stable sort of row-ordered positions).
        by_row = rows.argsort(dim=1, stable=True)  # (b, K') shortlist positions in row order
        by_relevance = relevance.gather(1, by_row).argsort(dim=1, descending=True, stable=True)
        picked = by_row.gather(1, by_relevance[:, :k])  # (b, k) shortlist positions
        return cosines.gather(1, picked), rows.gather(1, picked)

    def score_encoded(
        self, text: TextEmbedding, sources: Sequence[Source], captions: Sequence[str] | None = None
    ) -> list[CaptionScore]:
        """Score captions already embedded by `encode` (so callers that also need the vectors encode once).
        A re-ranker and visual support also need the captions' texts, row-aligned with `text`."""
        if len(text.vectors) != len(sources):
            raise InputError(f"{len(text.vectors)} captions but {len(sources)} sources")
        if not len(sources):
            return []
        k = self.options.k
        raw_sources, exclude = self._resolve_sources(sources)
        text_sims, rows = self._retrieve(text, exclude, captions)  # (b, k) each
        retrieved = torch.from_numpy(np.asarray(self.gallery.image_emb[rows.flatten().numpy()], dtype=np.float32))
        retrieved = self._image_space(retrieved.view(len(sources), k, -1))  # (b, k, d)
        source_vectors = self._image_space(raw_sources)
        qir_values, grc_values = qir(source_vectors, retrieved), grc(retrieved)
        rewards = cim_reward(qir_values, grc_values, self.options.beta)
        support = votes = None
        if self.support is not None:
            self._check_texts(captions, len(sources), "visual support" if self.options.support else "relation votes")
            support, votes = self.support.evidence(captions, F.normalize(raw_sources.float(), dim=-1), exclude)  # uncentred, as the gallery
            rewards = rewards + self.options.support * (support - 1) + self.options.relation_votes * votes
        redundancy = None
        if self.options.redundancy:
            self._check_texts(captions, len(sources), "the redundancy penalty")
            redundancy = redundant_shares(self.extractor, captions)
            rewards = rewards - self.options.redundancy * torch.tensor(redundancy, dtype=rewards.dtype)
        image_sims = image_similarities(source_vectors, retrieved)
        ids = self.gallery.ids
        return [
            CaptionScore(
                reward=float(rewards[i]),
                qir=float(qir_values[i]),
                grc=float(grc_values[i]),
                retrieved_ids=[ids[r] for r in rows[i].tolist()],
                text_sims=text_sims[i].tolist(),
                image_sims=image_sims[i].tolist(),
                n_tokens=int(text.n_tokens[i]),
                truncated=bool(text.truncated[i]),
                support=None if support is None or not self.options.support else float(support[i]),
                relation_votes=None if votes is None or not self.options.relation_votes else float(votes[i]),
                redundancy=None if redundancy is None else redundancy[i],
            )
            for i in range(len(sources))
        ]
