"""Two GRPO steps of the tiny VLM with the real CIMScorer (bundled encoders, real shapes gallery) via TRL."""

from __future__ import annotations

import math

import pytest
import torch

from cim.errors import InputError, OptionError
from cim.reward.scorer import CIMScorer
from cim.shapes import split_scenes
from cim.train.data import grpo_dataset
from cim.train.grpo import GRPOOptions, make_grpo_trainer
from cim.train.tiny import build_tiny_vlm


def test_two_grpo_steps_reach_trl_per_component_and_move_the_policy(shapes_gallery, tmp_path):
    model_dir = build_tiny_vlm(tmp_path / "tiny", seed=0)
    dataset = grpo_dataset(split_scenes("train", 4), image_size=84, reward_image_size=128)
    scorer = CIMScorer(shapes_gallery)
    options = GRPOOptions(
        learning_rate=1e-2,
        prompts_per_step=2,
        num_generations=2,
        max_completion_length=16,
        max_steps=2,
        logging_steps=1,
    )
    trainer = make_grpo_trainer(model_dir, dataset, scorer, tmp_path / "run", options)
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    trainer.train()

    logs = [entry for entry in trainer.state.log_history if "rewards/cim_grc/mean" in entry]
    assert len(logs) == 2
    for entry in logs:
        grc, qir = entry["rewards/cim_grc/mean"], entry["rewards/cim_qir/mean"]
        assert 0.0 < grc <= 1.0 + 1e-6 and math.isfinite(qir)
        assert entry["reward"] == pytest.approx(grc + scorer.options.beta * qir, abs=1e-4)
        assert "cim/truncated_frac" in entry and 0.0 <= entry["cim/repetition"] <= 1.0
        # The weight-0 shapes monitor logs fact metrics without changing the reward.
        assert 0.0 <= entry["shapes/object_precision"] <= 1.0 and 0.0 <= entry["shapes/relation_qa"] <= 1.0
    shared = trainer.reward_funcs[0].shared
    # one scoring per generation batch, not one per component
    assert shared is trainer.reward_funcs[1].shared and shared.calls == 2
    changed = [n for n, p in trainer.model.named_parameters() if not torch.equal(p.detach(), before[n])]
    assert any(n.startswith("model.language_model") for n in changed)
    assert any(n.startswith("model.visual") for n in changed)


def test_bad_inputs_fail_before_training(shapes_gallery, tmp_path):
    scorer = CIMScorer(shapes_gallery)
    dataset = grpo_dataset(split_scenes("train", 2))
    with pytest.raises(InputError, match="not an HF model folder"):
        make_grpo_trainer(tmp_path / "missing", dataset, scorer, tmp_path / "run")
    with pytest.raises(InputError, match=r"needs the columns \['image'\]"):
        make_grpo_trainer(tmp_path, dataset.remove_columns(["source_image", "image"]), scorer, tmp_path)
    with pytest.raises(OptionError, match="option 'loss_type': Input should be 'grpo', 'dr_grpo', 'dapo' or 'bnpo'"):
        GRPOOptions.parse({"loss_type": "ppo"})
