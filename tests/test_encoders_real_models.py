"""Real encoder architectures (CLIP, SigLIP, DINOv2, OpenCLIP) loaded by spec from tiny random-init checkpoints."""

from __future__ import annotations

import json
import os
import pickle

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers / huggingface_hub read it

import numpy as np
import pytest
import torch
from PIL import Image

from cim.encoders import load_image_encoder, load_text_encoder
from cim.encoders.base import encode_images
from cim.errors import InputError, UnknownNameError

WORDS = "a photo of the cat dog on red blue green small big car tree house sky".split()
MAX_TOKENS = 16
SHORT = "a photo of the cat"
LONG = " ".join(WORDS * 2)  # 34 words: longer than MAX_TOKENS
WIDTH, PROJ = 32, 24  # tower width, shared-space width


def make_tokenizer(bos: bool):
    """A tiny word-level tokenizer: [<bos>] words <eos>."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<unk>", "<bos>", "<eos>", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    single = "<bos> $A <eos>" if bos else "$A <eos>"
    tok.post_processor = processors.TemplateProcessing(
        single=single, special_tokens=[("<bos>", 2), ("<eos>", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        pad_token="<pad>",
        model_max_length=MAX_TOKENS,
    ), len(vocab)


def tower(**extra: object) -> dict:
    return dict(hidden_size=WIDTH, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, **extra)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory) -> str:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    folder = tmp_path_factory.mktemp("tiny-clip")
    tokenizer, vocab = make_tokenizer(bos=True)
    text = tower(
        vocab_size=vocab, max_position_embeddings=MAX_TOKENS, pad_token_id=0, bos_token_id=2, eos_token_id=3
    )
    config = CLIPConfig(
        text_config=text, vision_config=tower(image_size=32, patch_size=8), projection_dim=PROJ
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        folder
    )
    return str(folder)


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory) -> str:
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    folder = tmp_path_factory.mktemp("tiny-siglip")
    tokenizer, vocab = make_tokenizer(bos=False)
    text = tower(vocab_size=vocab, max_position_embeddings=MAX_TOKENS)
    config = SiglipConfig(text_config=text, vision_config=tower(image_size=32, patch_size=8))
    torch.manual_seed(0)
    SiglipModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def dinov2_dir(tmp_path_factory) -> str:
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    folder = tmp_path_factory.mktemp("tiny-dinov2")
    config = Dinov2Config(
        hidden_size=WIDTH,
        num_hidden_layers=1,
        num_attention_heads=2,
        mlp_ratio=2,
        image_size=32,
        patch_size=8,
    )
    torch.manual_seed(0)
    Dinov2Model(config).save_pretrained(folder)
    BitImageProcessor(size={"shortest_edge": 36}, crop_size={"height": 32, "width": 32}).save_pretrained(
        folder
    )
    return str(folder)


def tiny_openclip(tmp_path_factory, name: str, vision_cfg: dict) -> str:
    """Register a tiny OpenCLIP arch from a JSON config and save random weights; returns the spec."""
    import open_clip

    folder = tmp_path_factory.mktemp(name)
    text_cfg = {"context_length": MAX_TOKENS, "vocab_size": 49408, "width": WIDTH, "heads": 2, "layers": 1}
    (folder / f"{name}.json").write_text(
        json.dumps({"embed_dim": PROJ, "vision_cfg": vision_cfg, "text_cfg": text_cfg})
    )
    open_clip.add_model_config(folder / f"{name}.json")
    torch.manual_seed(0)
    torch.save(open_clip.create_model(name).state_dict(), folder / "weights.pt")
    return f"openclip:{name}/{folder / 'weights.pt'}"


@pytest.fixture(scope="module")
def openclip_spec(tmp_path_factory) -> str:
    vision_cfg = {"image_size": 32, "layers": 1, "width": WIDTH, "patch_size": 8, "head_width": 16}
    return tiny_openclip(tmp_path_factory, "cim-tiny-vit", vision_cfg)


@pytest.fixture(scope="module")
def specs(clip_dir, siglip_dir, dinov2_dir, openclip_spec) -> dict[str, str]:
    return {
        "clip": f"hf-clip:{clip_dir}",
        "siglip": f"hf-clip:{siglip_dir}",
        "dinov2": f"dinov2:{dinov2_dir}",
        "openclip": openclip_spec,
    }


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        for h, w in [(40, 30), (30, 50), (36, 36)]
    ]


def assert_unit_rows(vectors: torch.Tensor) -> None:
    assert vectors.dtype == torch.float32 and vectors.device.type == "cpu"
    torch.testing.assert_close(vectors.norm(dim=1), torch.ones(len(vectors)))


@pytest.mark.parametrize("model", ["clip", "siglip", "openclip"])
def test_text_encoder(specs, model: str) -> None:
    encoder = load_text_encoder(specs[model], device="cpu")
    info = encoder.describe()
    assert info["spec"] == specs[model] and info["dim"] == encoder.dim and info["max_tokens"] == MAX_TOKENS
    out = encoder.encode([SHORT, LONG, "a red car"], batch_size=2)
    assert out.vectors.shape == (3, encoder.dim)
    assert_unit_rows(out.vectors)
    assert out.truncated.tolist() == [False, True, False]
    assert out.n_tokens[1] > MAX_TOKENS
    torch.testing.assert_close(encoder.encode([SHORT, LONG, "a red car"]).vectors, out.vectors)
    assert not torch.allclose(out.vectors[0], out.vectors[2])
    assert encoder.encode([]).vectors.shape == (0, encoder.dim)


@pytest.mark.parametrize("model", ["clip", "siglip", "dinov2", "openclip"])
@pytest.mark.parametrize("pooling", ["global", "grid2", "grid3"])
def test_image_encoder(specs, images, model: str, pooling: str) -> None:
    encoder = load_image_encoder(specs[model], pooling=pooling, device="cpu")
    info = encoder.describe()
    assert info["spec"] == specs[model] and info["dim"] == encoder.dim and info["pooling"] == pooling
    assert info["image_size"] == 32 and len(info["mean"]) == len(info["std"]) == 3
    if pooling != "global":
        assert encoder.dim == WIDTH * int(pooling[-1]) ** 2
    pixels = encoder.preprocess(images[0])
    assert pixels.shape == (3, 32, 32)
    torch.testing.assert_close(pickle.loads(pickle.dumps(encoder.preprocess))(images[0]), pixels)
    vectors = encode_images(encoder, images, batch_size=2)
    assert vectors.shape == (3, encoder.dim)
    assert_unit_rows(vectors)
    torch.testing.assert_close(encode_images(encoder, images), vectors)
    assert not torch.allclose(vectors[0], vectors[1])


@pytest.mark.parametrize("model", ["clip", "siglip", "openclip"])
def test_global_image_shares_text_space(specs, images, model: str) -> None:
    image = load_image_encoder(specs[model], device="cpu")
    text = load_text_encoder(specs[model], device="cpu")
    assert image.dim == text.dim == (WIDTH if model == "siglip" else PROJ)
    assert image.describe()["text_space"] is True
    assert load_image_encoder(specs[model], pooling="grid2", device="cpu").describe()["text_space"] is False
    assert (encode_images(image, images[:1]) @ text.encode([SHORT]).vectors.T).shape == (1, 1)


@pytest.mark.parametrize("model", ["clip", "siglip", "dinov2", "openclip"])
def test_image_size_override(specs, images, model: str) -> None:
    encoder = load_image_encoder(specs[model], pooling="grid2", image_size=48, device="cpu")
    assert encoder.describe()["image_size"] == 48
    assert encoder.preprocess(images[1]).shape == (3, 48, 48)
    assert encode_images(encoder, images).shape == (3, WIDTH * 4)


def test_bad_specs(tmp_path, specs) -> None:
    missing = str(tmp_path / "no-such-model")
    for spec in (f"hf-clip:{missing}", f"dinov2:{missing}"):
        with pytest.raises(InputError, match="no-such-model"):
            load_image_encoder(spec, device="cpu")
    with pytest.raises(InputError, match="no-such-model"):
        load_text_encoder(f"openclip:ViT-B-32/{missing}.pt", device="cpu")
    with pytest.raises(ValueError, match="needs a model"):
        load_text_encoder("hf-clip", device="cpu")
    with pytest.raises(ValueError, match="arch"):
        load_image_encoder("openclip:ViT-B-32", device="cpu")
    with pytest.raises(ValueError, match="Not-A-Model"):
        load_image_encoder("openclip:Not-A-Model/openai", device="cpu")
    with pytest.raises(ValueError, match="laion2b_s34b_b79k"):  # lists valid tags
        load_image_encoder("openclip:ViT-B-32/no-such-tag", device="cpu")
    with pytest.raises(UnknownNameError, match="hf-clip"):
        load_image_encoder("no-such-encoder:x")
    with pytest.raises(ValueError, match="grid2"):
        load_image_encoder(specs["dinov2"], pooling="grid5", device="cpu")


def test_openclip_grid_needs_vit(tmp_path_factory) -> None:
    vision_cfg = {"image_size": 32, "layers": [1, 1, 1, 1], "width": 16}
    spec = tiny_openclip(tmp_path_factory, "cim-tiny-rn", vision_cfg)
    assert load_image_encoder(spec, device="cpu").dim == PROJ
    with pytest.raises(ValueError, match="global"):
        load_image_encoder(spec, pooling="grid2", device="cpu")


def test_text_to_image_retrieval_with_a_shared_space_encoder(clip_dir, items_file, tmp_path) -> None:
    """A gallery built with one CLIP for both modalities supports retrieval="image" (caption → gallery images)."""
    from cim.gallery.build import BuildConfig, build_gallery
    from cim.gallery.items import read_items
    from cim.gallery.store import Gallery
    from cim.reward.options import ScorerOptions
    from cim.reward.scorer import CIMScorer

    spec = f"hf-clip:{clip_dir}"
    config = BuildConfig(text_encoder=spec, image_encoder=spec, num_workers=0, device="cpu")
    build_gallery(read_items(items_file), tmp_path / "g", config)
    gallery = Gallery.load(tmp_path / "g")
    assert gallery.text_emb.shape[1] == gallery.image_emb.shape[1] == PROJ
    scorer = CIMScorer(gallery, ScorerOptions(retrieval="image"), device="cpu")
    caption = "a photo of the red car"
    result = scorer.score([caption], ["red-circle-0"])[0]
    query = scorer.text_encoder.encode([caption]).vectors[0].numpy()
    sims = np.asarray(gallery.image_emb, dtype=np.float32) @ query
    sims[gallery.row("red-circle-0")] = -np.inf  # clean mode
    expected = [gallery.ids[r] for r in sorted(range(len(sims)), key=lambda r: (-sims[r], r))[:3]]
    assert result.retrieved_ids == expected
