"""OpenCLIP models ("openclip:<arch>/<pretrained tag or checkpoint file>"), e.g. "openclip:ViT-H-14/laion2b_s32b_b79k"."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchvision import transforms as T

from cim.encoders.base import TextEmbedding, TransformImageEncoder, grid_dim, pick_device, pool_feature_map
from cim.encoders.registry import split_spec
from cim.errors import InputError, MissingDependencyError, OptionError

USAGE = "openclip:<arch>/<pretrained tag or checkpoint file>"
GRID_POOLINGS = ("grid2", "grid3")  # ViT image towers only


def import_open_clip() -> Any:
    """The open_clip module, or a clear error saying how to install it."""
    try:
        import open_clip
    except ImportError as error:
        raise MissingDependencyError("OpenCLIP encoders need open-clip-torch: pip install 'cim[openclip]'") from error
    return open_clip


def parse_spec(spec: str) -> tuple[str, str]:
    """ "openclip:ViT-H-14/laion2b_s32b_b79k" → ("ViT-H-14", "laion2b_s32b_b79k"), checking both parts."""
    open_clip = import_open_clip()

    _, argument = split_spec(spec)
    arch, _, pretrained = (argument or "").partition("/")
    if not arch or not pretrained:
        raise OptionError(f"encoder spec {spec!r} needs an architecture and weights: {USAGE!r}")
    if arch not in open_clip.list_models():
        raise OptionError(
            f"encoder spec {spec!r}: unknown OpenCLIP architecture {arch!r}; see open_clip.list_models()"
        )
    looks_like_file = (
        os.sep in pretrained or "/" in pretrained or pretrained.endswith((".pt", ".bin", ".safetensors"))
    )
    if looks_like_file and not os.path.isfile(os.path.expanduser(pretrained)):
        raise InputError(f"encoder spec {spec!r}: no checkpoint file at {pretrained!r}")
    if not looks_like_file and pretrained not in open_clip.list_pretrained_tags_by_model(arch):
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none; pass a checkpoint file"
        raise OptionError(
            f"encoder spec {spec!r}: unknown pretrained tag {pretrained!r} for {arch}; valid: {tags}"
        )
    return arch, os.path.expanduser(pretrained) if looks_like_file else pretrained


def _create(spec: str, device: torch.device, image_size: int | None = None) -> tuple[str, Any, Any, int]:
    """(arch, model in eval mode, validation transform, embedding width)."""
    open_clip = import_open_clip()

    arch, pretrained = parse_spec(spec)
    try:
        model, _, transform = open_clip.create_model_and_transforms(
            arch, pretrained=pretrained, device=device, force_image_size=image_size
        )
    except (OSError, RuntimeError) as exc:  # open_clip reports failed downloads as RuntimeError
        kind = OSError if isinstance(exc, OSError) else RuntimeError
        raise kind(f"encoder spec {spec!r}: cannot load OpenCLIP weights {pretrained!r}: {exc}") from exc
    return arch, model.eval(), transform, int(open_clip.get_model_config(arch)["embed_dim"])


class OpenClipTextEncoder:
    """OpenCLIP text tower: encode_text, L2-normalised, with truncation counting."""

    def __init__(self, spec: str, device: str | None = None) -> None:
        open_clip = import_open_clip()

        self.spec = spec
        self.device = pick_device(device)
        arch, self.model, _, self.dim = _create(spec, self.device)
        self.tokenizer = open_clip.get_tokenizer(arch)
        self.max_tokens = int(self.tokenizer.context_length)

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text including start / end tokens, without truncation."""
        if hasattr(self.tokenizer, "tokenizer"):  # HFTokenizer wraps a transformers tokenizer
            hf = self.tokenizer.tokenizer
            lengths = [
                len(hf(self.tokenizer.clean_fn(t), truncation=False, verbose=False)["input_ids"])
                for t in texts
            ]
        else:
            lengths = [len(self.tokenizer.encode(t)) + 2 for t in texts]
        return np.array(lengths, dtype=np.int64)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> TextEmbedding:
        texts = list(texts)
        if not texts:
            return TextEmbedding(torch.empty(0, self.dim), np.empty(0, np.int64), self.max_tokens)
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                tokens = self.tokenizer(texts[start : start + batch_size]).to(self.device)
                chunks.append(F.normalize(self.model.encode_text(tokens).float(), dim=-1).cpu())
        return TextEmbedding(torch.cat(chunks), self.count_tokens(texts), self.max_tokens)

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "dim": self.dim, "max_tokens": self.max_tokens, "normalised": True}


class OpenClipImageEncoder(TransformImageEncoder):
    """OpenCLIP image tower: encode_image (text space) or, for ViTs, grid-pooled last-layer patch tokens."""

    def __init__(
        self, spec: str, pooling: str = "global", image_size: int | None = None, device: str | None = None
    ) -> None:
        from open_clip.transformer import VisionTransformer

        super().__init__(spec, pooling, device)
        _, self.model, self.transform, width = _create(spec, self.device, image_size)
        visual = self.model.visual
        if self.pooling != "global" and not isinstance(visual, VisionTransformer):
            raise OptionError(
                f"encoder spec {spec!r}: pooling {pooling!r} needs a ViT image tower; "
                f"{type(visual).__name__} supports only 'global' (grid: {', '.join(GRID_POOLINGS)})"
            )
        size = visual.image_size
        self.image_size = int(size[0] if isinstance(size, tuple | list) else size)
        normalize = [t for t in self.transform.transforms if isinstance(t, T.Normalize)]
        self.mean = [float(m) for m in normalize[0].mean] if normalize else None
        self.std = [float(s) for s in normalize[0].std] if normalize else None
        self.dim = (
            width if self.pooling == "global" else grid_dim(int(visual.transformer.width), self.pooling)
        )

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            pixels = pixels.to(self.device, torch.float32)
            if self.pooling == "global":
                return F.normalize(self.model.encode_image(pixels).float(), dim=-1).cpu()
            output = self.model.visual.forward_intermediates(
                pixels, indices=1, normalize_intermediates=True, intermediates_only=True, output_fmt="NCHW"
            )
            return pool_feature_map(output["image_intermediates"][-1], self.pooling).cpu()

    def describe(self) -> dict[str, Any]:
        shared = self.pooling == "global"
        resize = "; ".join(repr(t) for t in self.transform.transforms if not isinstance(t, T.Normalize))
        preprocessing = {"image_size": self.image_size, "resize": resize, "mean": self.mean, "std": self.std}
        features = "encode_image" if shared else "last-layer patch tokens (ln_post), grid-pooled"
        return self._describe(preprocessing, features, text_space=shared)


def load_text(spec: str, device: str | None = None) -> OpenClipTextEncoder:
    """ "openclip:<arch>/<pretrained tag or checkpoint file>"."""
    return OpenClipTextEncoder(spec, device)


def load_image(
    spec: str, pooling: str = "global", image_size: int | None = None, device: str | None = None
) -> OpenClipImageEncoder:
    """ "openclip:<arch>/<pretrained>"; global pooling for every arch, grid pooling for ViT image towers."""
    return OpenClipImageEncoder(spec, pooling=pooling, image_size=image_size, device=device)
