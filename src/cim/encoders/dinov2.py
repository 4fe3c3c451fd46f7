"""DINOv2 image encoders through transformers ("dinov2:<hub id or local folder>"): CLS token or patch grid."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from cim.encoders.base import TransformImageEncoder, grid_dim, pool_patch_tokens
from cim.encoders.hf_clip import ProcessorTransform, from_pretrained, resolve_model_path


class Dinov2ImageEncoder(TransformImageEncoder):
    """Dinov2Model: layer-normed CLS token (global) or last-layer patch tokens grid-pooled."""

    def __init__(
        self, spec: str, pooling: str = "global", image_size: int | None = None, device: str | None = None
    ) -> None:
        from transformers import AutoImageProcessor, Dinov2Model

        super().__init__(spec, pooling, device)
        path = resolve_model_path(spec, "dinov2:<hub id or local folder>")
        model = from_pretrained(Dinov2Model, spec, path, dtype=torch.float32)
        self.model = model.eval().to(self.device)
        self.transform = ProcessorTransform(from_pretrained(AutoImageProcessor, spec, path), image_size)
        self.image_size = self.transform.size
        self.patch_size = int(model.config.patch_size)
        self.dim = grid_dim(int(model.config.hidden_size), self.pooling)

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            pixels = pixels.to(self.device, torch.float32)
            output = self.model(pixel_values=pixels)  # position embeddings interpolate to any size
            if self.pooling == "global":
                return F.normalize(output.pooler_output.float(), dim=-1).cpu()
            patches = (pixels.shape[2] // self.patch_size) * (pixels.shape[3] // self.patch_size)
            return pool_patch_tokens(output.last_hidden_state[:, -patches:], self.pooling).cpu()  # drops CLS

    def describe(self) -> dict[str, Any]:
        features = "CLS token" if self.pooling == "global" else "last-layer patch tokens, grid-pooled"
        return self._describe(self.transform.describe(), features)


def load_image(
    spec: str, pooling: str = "global", image_size: int | None = None, device: str | None = None
) -> Dinov2ImageEncoder:
    """ "dinov2:<hub id or local folder>", e.g. "dinov2:facebook/dinov2-small"."""
    return Dinov2ImageEncoder(spec, pooling=pooling, image_size=image_size, device=device)
