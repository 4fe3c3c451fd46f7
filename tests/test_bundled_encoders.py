"""The bundled encoders: shapes of outputs, normalisation, truncation counts, and what pooling can see."""

import pytest
import torch
from PIL import ImageOps

from cim.encoders import load_image_encoder, load_text_encoder
from cim.encoders.base import encode_images
from cim.errors import UnknownNameError
from cim.shapes import render_scene, split_scenes


@pytest.fixture(scope="module")
def scenes():
    return [render_scene(scene, 128) for scene in split_scenes("val", 6)]


def test_minilm_outputs_and_token_counts():
    encoder = load_text_encoder("minilm", device="cpu")
    out = encoder.encode(["a red circle", "word " * 300])
    assert out.vectors.shape == (2, 384) and encoder.max_tokens == 256
    torch.testing.assert_close(out.vectors.norm(dim=1), torch.ones(2))
    assert out.n_tokens.tolist() == [5, 302] and out.truncated.tolist() == [False, True]


@pytest.mark.parametrize(("pooling", "dim"), [("global", 1280), ("grid2", 5120), ("grid3", 11520)])
def test_efficientnet_pooling_dims(scenes, pooling, dim):
    encoder = load_image_encoder("efficientnet-lite0", pooling=pooling, image_size=128, device="cpu")
    vectors = encode_images(encoder, scenes)
    assert vectors.shape == (len(scenes), dim) == (len(scenes), encoder.dim)
    torch.testing.assert_close(vectors.norm(dim=1), torch.ones(len(scenes)))


def test_grid_pooling_sees_mirroring_that_global_pooling_barely_sees(scenes):
    def mirror_cosines(pooling: str) -> tuple[float, float]:
        encoder = load_image_encoder("efficientnet-lite0", pooling=pooling, image_size=128, device="cpu")
        original = encode_images(encoder, scenes)
        mirrored = encode_images(encoder, [ImageOps.mirror(image) for image in scenes])
        same = (original * mirrored).sum(1).mean().item()
        other = (original * original.roll(1, 0)).sum(1).mean().item()  # unrelated scenes
        return same, other

    global_same, global_other = mirror_cosines("global")
    grid_same, grid_other = mirror_cosines("grid2")
    assert global_same > 0.9  # a mirrored scene looks almost the same to global features
    assert grid_same < global_same - 0.1  # the grid notices the layout change
    assert grid_other < grid_same and global_other < global_same


def test_unknown_specs_list_valid_names():
    with pytest.raises(UnknownNameError, match="valid: .*minilm.*sbert"):
        load_text_encoder("bert-base")
    with pytest.raises(UnknownNameError, match="valid: .*dinov2.*efficientnet-lite0"):
        load_image_encoder("resnet50")
    with pytest.raises(ValueError, match="valid: global, grid2, grid3"):
        load_image_encoder("efficientnet-lite0", pooling="grid4")
