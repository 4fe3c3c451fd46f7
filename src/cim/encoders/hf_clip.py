"""CLIP and SigLIP through transformers ("hf-clip:<hub id or local folder>"): text and image in one space."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms import functional as TF

from cim.encoders.base import TextEmbedding, TransformImageEncoder, grid_dim, pick_device, pool_patch_tokens
from cim.encoders.registry import split_spec
from cim.errors import InputError, OptionError
from cim.images import to_rgb

MODEL_TYPES = ("clip", "siglip")


def resolve_model_path(spec: str, usage: str) -> str:
    """The spec's argument: an existing local folder, or a hub id; a missing local path is an error."""
    _, argument = split_spec(spec)
    if not argument:
        raise OptionError(f"encoder spec {spec!r} needs a model: {usage!r}")
    path = os.path.expanduser(argument)
    if os.path.isdir(path):
        return path
    if (
        os.path.exists(path)
        or argument.startswith(("/", ".", "~"))
        or argument.count("/") > 1
        or "\\" in argument
    ):
        raise InputError(f"encoder spec {spec!r}: no model folder at {argument!r}")
    return argument  # "org/name" hub id


def from_pretrained(cls: Any, spec: str, path: str, **kwargs: Any) -> Any:
    """`cls.from_pretrained(path)` with the spec named in any load error."""
    try:
        return cls.from_pretrained(path, **kwargs)
    except OSError as exc:
        raise InputError(f"encoder spec {spec!r}: cannot load {cls.__name__} from {path!r}: {exc}") from exc


def _field(size: Any, key: str) -> int | None:
    value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
    return None if value is None else int(value)


class ProcessorTransform:
    """Picklable PIL → (3, H, W) tensor following a HF image processor's resize / crop / normalise config."""

    def __init__(self, processor: Any, image_size: int | None = None) -> None:
        shortest = _field(processor.size, "shortest_edge")
        height, width = _field(processor.size, "height"), _field(processor.size, "width")
        if shortest is None and (height is None or height != width):
            raise ValueError(
                f"unsupported image processor size {processor.size!r}; need shortest_edge or a square"
            )
        crop = _field(processor.crop_size, "height") if getattr(processor, "do_center_crop", False) else None
        self.shortest_edge = shortest is not None
        self.resize = shortest or height
        self.size = crop or self.resize
        if image_size:  # keep the processor's resize / crop ratio
            self.resize = max(int(image_size), round(image_size * self.resize / self.size))
            self.size = int(image_size)
        self.resample = int(processor.resample)
        normalise = getattr(processor, "do_normalize", True)
        self.mean = tuple(float(m) for m in processor.image_mean) if normalise else (0.0, 0.0, 0.0)
        self.std = tuple(float(s) for s in processor.image_std) if normalise else (1.0, 1.0, 1.0)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        image = to_rgb(image)
        if self.shortest_edge:  # as transformers: the long edge is truncated, not rounded
            short = min(image.size)
            target = tuple(max(self.resize, int(self.resize * side / short)) for side in image.size)
        else:
            target = (self.resize, self.resize)
        if image.size != target:
            image = image.resize(target, self.resample)
        return TF.normalize(TF.to_tensor(TF.center_crop(image, [self.size, self.size])), self.mean, self.std)

    def describe(self) -> dict[str, Any]:
        how = "shortest edge" if self.shortest_edge else "square"
        resample = Image.Resampling(self.resample).name.lower()
        return {
            "image_size": self.size,
            "resize": f"{resample}, {how} to {self.resize}, centre crop {self.size}",
            "mean": list(self.mean),
            "std": list(self.std),
        }


def pooled_features(output: Any) -> torch.Tensor:
    """get_*_features output: a tensor (transformers 4) or a ModelOutput whose pooler_output is projected (5)."""
    if isinstance(output, torch.Tensor):
        return output
    if getattr(output, "pooler_output", None) is not None:
        return output.pooler_output
    raise TypeError(f"unexpected features output {type(output).__name__}; expected a tensor or pooler_output")


def _load_model(spec: str, device: torch.device) -> tuple[str, Any]:
    from transformers import AutoModel

    path = resolve_model_path(spec, "hf-clip:<hub id or local folder>")
    model = from_pretrained(AutoModel, spec, path, dtype=torch.float32)
    if model.config.model_type not in MODEL_TYPES:
        raise OptionError(
            f"{spec!r} is a {model.config.model_type!r} model; hf-clip supports {', '.join(MODEL_TYPES)}"
        )
    return path, model.eval().to(device)


class HFClipTextEncoder:
    """CLIP / SigLIP text tower: projected text features, L2-normalised, with truncation counting."""

    def __init__(self, spec: str, device: str | None = None) -> None:
        from transformers import AutoTokenizer

        self.spec = spec
        self.device = pick_device(device)
        path, self.model = _load_model(spec, self.device)
        self.tokenizer = from_pretrained(AutoTokenizer, spec, path)
        config = self.model.config
        self.siglip = config.model_type == "siglip"
        self.dim = int(config.text_config.projection_size if self.siglip else config.projection_dim)
        limit = int(config.text_config.max_position_embeddings)
        self.max_tokens = min(limit, int(self.tokenizer.model_max_length or limit))

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text including special tokens, without truncation."""
        ids = self.tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)
        return np.array([len(row) for row in ids["input_ids"]], dtype=np.int64)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> TextEmbedding:
        texts = list(texts)
        if not texts:
            return TextEmbedding(torch.empty(0, self.dim), np.empty(0, np.int64), self.max_tokens)
        chunks = []
        padding = "max_length" if self.siglip else "longest"
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(
                    texts[start : start + batch_size],
                    padding=padding,
                    truncation=True,
                    max_length=self.max_tokens,
                    return_tensors="pt",
                )
                # SigLIP was trained on max_length padding without an attention mask.
                keys = ("input_ids",) if self.siglip else ("input_ids", "attention_mask")
                inputs = {k: batch[k].to(self.device) for k in keys if k in batch}
                features = pooled_features(self.model.get_text_features(**inputs))
                chunks.append(F.normalize(features.float(), dim=-1).cpu())
        return TextEmbedding(torch.cat(chunks), self.count_tokens(texts), self.max_tokens)

    def describe(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "dim": self.dim,
            "max_tokens": self.max_tokens,
            "normalised": True,
            "padding": "max_length" if self.siglip else "longest",
        }


class HFClipImageEncoder(TransformImageEncoder):
    """CLIP / SigLIP vision tower: projected embedding (text space) or grid-pooled patch tokens (vision only)."""

    def __init__(
        self, spec: str, pooling: str = "global", image_size: int | None = None, device: str | None = None
    ) -> None:
        from transformers import AutoImageProcessor

        super().__init__(spec, pooling, device)
        path, self.model = _load_model(spec, self.device)
        self.transform = ProcessorTransform(from_pretrained(AutoImageProcessor, spec, path), image_size)
        self.image_size = self.transform.size
        config = self.model.config
        vision = config.vision_config
        self.patch_size = int(vision.patch_size)
        self.interpolate = self.image_size != int(vision.image_size)
        projected = int(vision.hidden_size if config.model_type == "siglip" else config.projection_dim)
        self.dim = projected if self.pooling == "global" else grid_dim(int(vision.hidden_size), self.pooling)

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            pixels = pixels.to(self.device, torch.float32)
            if self.pooling == "global":
                output = self.model.get_image_features(
                    pixel_values=pixels, interpolate_pos_encoding=self.interpolate
                )
                return F.normalize(pooled_features(output).float(), dim=-1).cpu()
            output = self.model.vision_model(pixel_values=pixels, interpolate_pos_encoding=self.interpolate)
            patches = (pixels.shape[2] // self.patch_size) * (pixels.shape[3] // self.patch_size)
            return pool_patch_tokens(output.last_hidden_state[:, -patches:], self.pooling).cpu()  # drops CLS

    def describe(self) -> dict[str, Any]:
        shared = self.pooling == "global"
        features = "projected image embedding" if shared else "last-layer patch tokens, grid-pooled"
        return self._describe(self.transform.describe(), features, text_space=shared)


def load_text(spec: str, device: str | None = None) -> HFClipTextEncoder:
    """ "hf-clip:<hub id or local folder>" of a CLIP or SigLIP model."""
    return HFClipTextEncoder(spec, device)


def load_image(
    spec: str, pooling: str = "global", image_size: int | None = None, device: str | None = None
) -> HFClipImageEncoder:
    """ "hf-clip:<hub id or local folder>"; global pooling shares the text space, grid pooling does not."""
    return HFClipImageEncoder(spec, pooling=pooling, image_size=image_size, device=device)
