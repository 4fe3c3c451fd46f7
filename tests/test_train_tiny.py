"""The tiny preset: a from-scratch Qwen2.5-VL folder loadable with Auto classes; shapes datasets for TRL."""

from __future__ import annotations

import random

import pytest
import torch

from cim.errors import InputError
from cim.shapes import LEVELS, caption_for_level, render_scene, split_scenes
from cim.train.tiny import IMAGE_PAD, PROMPT, UNK, TinyVLMConfig, build_tiny_vlm, count_parameters


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_vlm(tmp_path_factory.mktemp("tiny") / "model", seed=0)


def test_tiny_folder_loads_with_auto_classes(tiny_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    processor = AutoProcessor.from_pretrained(tiny_dir)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    assert 1_000_000 < count_parameters(model) < 5_000_000

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    image = render_scene(split_scenes("val", 1)[0], 84)
    inputs = processor(text=[text], images=[image], return_tensors="pt")
    assert inputs["image_grid_thw"].tolist() == [[1, 6, 6]]
    image_id = processor.tokenizer.convert_tokens_to_ids(IMAGE_PAD)
    assert int((inputs["input_ids"] == image_id).sum()) == 9  # one merged token per grid cell
    assert processor.tokenizer.convert_tokens_to_ids(UNK) not in inputs["input_ids"][0].tolist()
    output = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert output.shape[1] <= inputs["input_ids"].shape[1] + 4


def test_tokenizer_round_trips_every_caption_level(tiny_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    unk = tokenizer.convert_tokens_to_ids(UNK)
    rng = random.Random(0)
    for scene in split_scenes("train", 40):
        for level in LEVELS:
            caption = caption_for_level(scene, level, rng, shuffle=True)
            ids = tokenizer(caption)["input_ids"]
            assert unk not in ids
            assert tokenizer.decode(ids) == caption


def test_build_is_seeded(tmp_path):
    a = build_tiny_vlm(tmp_path / "a", seed=3)
    b = build_tiny_vlm(tmp_path / "b", seed=3)
    from safetensors.torch import load_file

    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_config_errors_name_the_input():
    with pytest.raises(ValueError, match="image_size 100 must be a multiple of 84"):
        TinyVLMConfig(image_size=100)
    with pytest.raises(ValueError, match="num_heads"):
        TinyVLMConfig(hidden_size=128, num_heads=3)


def test_datasets_have_the_columns_trl_and_the_reward_read():
    from cim.train.data import grpo_dataset, sft_dataset

    scenes = split_scenes("train", 3)
    grpo = grpo_dataset(scenes)
    assert set(grpo.column_names) == {"prompt", "image", "scene_id", "source_image"}
    assert grpo[0]["prompt"] == [{"role": "user", "content": PROMPT}]
    assert grpo[0]["image"].size == (84, 84) and grpo[0]["source_image"].size == (128, 128)
    assert "source_id" in grpo_dataset(scenes, in_gallery=True).column_names
    sft = sft_dataset(scenes, "complete", epochs=2)
    assert len(sft) == 6
    assert sft[0]["completion"] == [
        {"role": "assistant", "content": caption_for_level(scenes[0], "complete")}
    ]
    with pytest.raises(InputError, match="unknown caption level 'full'; valid: complete"):
        sft_dataset(scenes, "full")


def test_lossy_captions_omit_facts_but_state_only_true_ones():
    from cim.shapes import read_facts, scene_facts
    from cim.train.data import lossy_captioner

    captioner, rng = lossy_captioner(object_keep=0.7, relation_keep=0.25), random.Random(0)
    kept, total_objects, relations = 0, 0, 0
    for scene in split_scenes("train", 300):
        stated, truth = read_facts(captioner(scene, rng)), scene_facts(scene)
        assert stated.objects and stated.objects <= truth.objects
        assert stated.attributes <= truth.attributes and stated.relations <= truth.relations
        assert {a for a in truth.attributes if a[0] in stated.objects} == stated.attributes
        kept, total_objects, relations = kept + len(stated.objects), total_objects + len(truth.objects), relations + len(stated.relations)
    assert 0.65 < kept / total_objects < 0.8 and relations > 0
    with pytest.raises(InputError, match="object_keep must be in"):
        lossy_captioner(object_keep=1.5)


def test_freezing_the_vision_encoder_keeps_it_fixed_through_sft(tiny_dir, tmp_path):
    from safetensors.torch import load_file

    from cim.train.data import sft_dataset
    from cim.train.policy import freeze_vision_encoder, load_policy_for_training
    from cim.train.sft import SFTOptions, train_sft

    model = load_policy_for_training(tiny_dir, freeze_vision=True)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(".visual." in f".{n}" for n in frozen)
    assert any(p.requires_grad for p in model.parameters())
    with pytest.raises(InputError, match="no vision encoder named one of visual"):
        freeze_vision_encoder(torch.nn.Linear(2, 2))
    options = SFTOptions(batch_size=2, max_steps=2, learning_rate=1e-2, freeze_vision=True, logging_steps=1)
    out = train_sft(tiny_dir, sft_dataset(split_scenes("train", 4)), tmp_path / "sft", options)
    before, after = load_file(tiny_dir / "model.safetensors"), load_file(out / "model.safetensors")
    vision = [k for k in before if ".visual." in f".{k}"]
    assert vision and all(torch.equal(before[k], after[k]) for k in vision)
    assert any(not torch.equal(before[k], after[k]) for k in before if k not in vision)
