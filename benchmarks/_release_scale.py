"""Shared by the GPU benchmarks: the release's reward at its scale, without downloads (PAPER.md, "How the release
computes the reward").

A random-init MPNet sentence encoder of all-mpnet-base-v2's shape (768 wide, 12 layers, mean pooling, 384 tokens),
a gallery of random unit embeddings (1M rows in the release) whose image side is described as the release's
OpenCLIP ViT-H-14 (1024-d; never run: sources are gallery ids), and long shapes-world captions cut to a token count.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch

from cim.encoders import load_text_encoder
from cim.encoders.sbert import bundled_minilm_path
from cim.gallery.synthetic import write_random_gallery
from cim.reward.options import ScorerOptions
from cim.reward.scorer import CIMScorer
from cim.shapes import caption_for_level, split_scenes

RELEASE_IMAGE_ENCODER = {
    "spec": "openclip:ViT-H-14/laion2b_s32b_b79k",
    "dim": 1024,
    "pooling": "global",
    "image_size": 224,
    "normalised": True,
}
"""The release's image encoder as a gallery manifest records it."""

HEAD_DIM = 64  # MPNet-base: 768 wide, 12 heads
GROUP_SIZE = 5  # the release's GRPO group: five captions per source image


def caption_tokenizer():
    """The bundled MiniLM's tokenizer: BERT uncased word pieces (MPNet's vocabulary is of the same size)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(bundled_minilm_path())


def build_random_mpnet(
    out: Path, hidden: int = 768, layers: int = 12, max_tokens: int = 384, seed: int = 0
) -> str:
    """Save a random-init MPNet sentence-transformers model (mean pooling, normalised) in `out`; returns its spec."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import MPNetConfig, MPNetModel

    if hidden % HEAD_DIM:
        raise ValueError(f"hidden {hidden} must be a multiple of {HEAD_DIM} (heads of {HEAD_DIM})")
    tokenizer = caption_tokenizer()
    config = MPNetConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=hidden // HEAD_DIM,
        intermediate_size=4 * hidden,
    )
    torch.manual_seed(seed)
    MPNetModel(config).save_pretrained(out / "transformer")
    tokenizer.save_pretrained(out / "transformer")
    transformer = models.Transformer(str(out / "transformer"), max_seq_length=max_tokens)
    SentenceTransformer(modules=[transformer, models.Pooling(hidden, "mean"), models.Normalize()]).save(
        str(out)
    )
    return f"sbert:{out}"


def release_scorer(
    folder: Path, rows: int, hidden: int, layers: int, device: str | None, encode_batch: int
) -> CIMScorer:
    """A CIMScorer over a `rows`-row random gallery in `folder`, queried by a random-init MPNet of that size."""
    encoder = load_text_encoder(build_random_mpnet(folder / "encoder", hidden, layers), device=device)
    write_random_gallery(folder / "gallery", rows, encoder.describe(), RELEASE_IMAGE_ENCODER)
    options = ScorerOptions(encode_batch=encode_batch)
    return CIMScorer(folder / "gallery", options, text_encoder=encoder, device=device)


def long_captions(n: int, tokens: int, tokenizer) -> list[str]:
    """n distinct captions of about `tokens` word pieces (special tokens included): complete shapes captions of
    consecutive scenes joined, cut at the last whole word piece that fits."""
    per_caption = tokens // 40 + 2  # a complete shapes caption has more than 40 word pieces
    scenes = split_scenes("gallery", n + per_caption)
    texts = [caption_for_level(scene, "complete", random.Random(i)) for i, scene in enumerate(scenes)]
    joined = [" ".join(texts[i : i + per_caption]) for i in range(n)]
    encoded = tokenizer(joined, truncation=True, max_length=tokens, return_offsets_mapping=True)
    return [
        text[: max(end for _, end in offsets)] for text, offsets in zip(joined, encoded["offset_mapping"])
    ]


def token_counts(captions: list[str], tokenizer) -> list[int]:
    """Word pieces per caption, special tokens included, without truncation."""
    return [len(ids) for ids in tokenizer(captions)["input_ids"]]


def group_sources(ids: list[str], n: int) -> list[str]:
    """Source gallery ids of n captions in GRPO groups: captions 5i .. 5i+4 describe gallery item i."""
    return [ids[(i // GROUP_SIZE) % len(ids)] for i in range(n)]


def encoder_parameters(scorer: CIMScorer) -> int:
    """Parameters of the scorer's sentence-transformers text encoder."""
    return sum(p.numel() for p in scorer.text_encoder.model.parameters())
