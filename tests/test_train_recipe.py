"""Recipes: validation before training, overrides, and a one-step `cim train grpo` run that resumes."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from cim.cli import app
from cim.errors import InputError
from cim.train.recipe import GRPORecipe, load_recipe


def test_shipped_recipe_loads_and_round_trips(tmp_path):
    recipe = load_recipe("shapes-tiny")
    assert recipe.policy == "tiny" and recipe.reward.k == 3 and recipe.grpo.num_generations == 8
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe.to_dict()))
    assert load_recipe(path) == recipe
    assert load_recipe(None) == GRPORecipe()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["grpo.lr=1"], r"unknown recipe key 'grpo.lr'; valid keys here: learning_rate"),
        (["grpo.max_steps=two"], r"recipe key 'grpo.max_steps': Input should be a valid integer \(got 'two'\)"),
        (["reward.mode=strict"], r"recipe key 'reward.mode': Input should be 'clean' or 'official'"),
        (["reward.index=annoy"], r"recipe key 'reward': unknown search backend 'annoy'; valid: .*exact"),
        (["grpo.num_generations=1"], r"recipe key 'grpo.num_generations': Input should be greater than or equal to 2"),
        (["policy"], r"override 'policy' must look like key=value"),
        (["grpo=3"], r"recipe key 'grpo': Input should be a valid dictionary"),
    ],
)
def test_bad_recipes_fail_before_training(overrides, message):
    with pytest.raises(InputError, match=message):
        load_recipe("shapes-tiny", overrides)


def test_overrides_and_float_coercion():
    recipe = load_recipe("shapes-tiny", ["grpo.learning_rate=1", "reward.beta=0.5", "grpo.components=[qir]"])
    assert recipe.grpo.learning_rate == 1.0 and isinstance(recipe.grpo.learning_rate, float)
    assert recipe.reward.beta == 0.5 and recipe.grpo.components == ("qir",)


def test_cli_train_grpo_runs_checks_encoders_and_resumes(shapes_gallery, tmp_path):
    runner = CliRunner()
    out = tmp_path / "run"
    base = ["train", "grpo", "--recipe", "shapes-tiny", "--out", str(out), "--set", f"gallery={shapes_gallery}",
            "--set", "train_scenes=4", "--set", "grpo.prompts_per_step=2", "--set", "grpo.num_generations=2",
            "--set", "grpo.max_completion_length=8", "--set", "grpo.logging_steps=1", "--set", "grpo.save_steps=1", "--device", "cpu"]
    wrong = runner.invoke(app, [*base, "--set", "text_encoder=sbert:other", "--set", "grpo.max_steps=1"])
    assert wrong.exit_code == 2 and "text encoder 'sbert:other' is not the gallery's ('minilm'" in wrong.output
    first = runner.invoke(app, [*base, "--set", "grpo.max_steps=1"])
    assert first.exit_code == 0, first.output
    assert (out / "final" / "config.json").is_file() and (out / "checkpoints" / "checkpoint-1").is_dir()
    again = runner.invoke(app, [*base, "--set", "grpo.max_steps=1"])
    assert again.exit_code == 2 and "a run is already here" in again.output
    # Resuming needs the same recipe: the run's recipe.yaml names max_steps=1.
    changed = runner.invoke(app, [*base, "--set", "grpo.max_steps=2", "--resume"])
    assert changed.exit_code == 2 and "differs from the run's recipe.yaml" in changed.output
    resumed = runner.invoke(app, [*base, "--set", "grpo.max_steps=1", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    logs = json.loads((out / "log_history.json").read_text())
    assert any("rewards/cim_grc/mean" in entry and "rewards/cim_qir/mean" in entry for entry in logs)


def test_cli_train_sft_runs_and_resumes(tmp_path):
    from cim.train.recipe import SFTRecipe

    assert load_recipe("shapes-tiny-sft", kind=SFTRecipe).sft.max_steps == 750
    runner = CliRunner()
    out = tmp_path / "sft"
    base = ["train", "sft", "--recipe", "shapes-tiny-sft", "--out", str(out), "--set", "train_scenes=8",
            "--set", "sft.batch_size=4", "--set", "sft.logging_steps=1", "--set", "sft.save_steps=1"]
    bad = runner.invoke(app, [*base, "--set", "level=perfect"])
    assert bad.exit_code == 2 and "unknown caption level 'perfect'" in bad.output and not out.exists()
    first = runner.invoke(app, [*base, "--set", "sft.max_steps=1"])
    assert first.exit_code == 0, first.output
    assert (out / "final" / "config.json").is_file() and (out / "checkpoints" / "checkpoint-1").is_dir()
    logs = json.loads((out / "log_history.json").read_text())
    assert any("loss" in entry for entry in logs)
    resumed = runner.invoke(app, [*base, "--set", "sft.max_steps=1", "--resume"])
    assert resumed.exit_code == 0, resumed.output


def test_grpo_on_a_jsonl_of_real_image_files(shapes_gallery, tmp_path):
    from PIL import Image

    from cim.shapes import export_split
    from cim.train.data import jsonl_grpo_dataset
    from cim.train.recipe import load_recipe
    from cim.train.run import run_grpo

    captions = export_split("train", "complete", tmp_path / "train", size=84, n=4)
    dataset = jsonl_grpo_dataset(captions)
    assert dataset.column_names == ["prompt", "image", "id"] and isinstance(dataset[0]["image"], Image.Image)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "image": "nope.png"}) + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl:1: image not found"):
        jsonl_grpo_dataset(bad)
    recipe = load_recipe("shapes-tiny", [f"gallery={shapes_gallery}", f"train_data={captions}", "grpo.prompts_per_step=2",
                                                      "grpo.num_generations=2", "grpo.max_completion_length=8", "grpo.max_steps=1", "grpo.logging_steps=1"])
    run_grpo(recipe, tmp_path / "run", device="cpu")
    logs = json.loads((tmp_path / "run" / "log_history.json").read_text())
    assert any("rewards/cim_qir/mean" in entry for entry in logs)


def test_paper_recipe_maps_the_release_to_trl(tmp_path):
    from cim.train.grpo import grpo_config

    recipe = load_recipe("qwen2.5-vl-7b-paper")
    assert recipe.policy == "Qwen/Qwen2.5-VL-7B-Instruct" and recipe.reward.k == 3 and recipe.reward.beta == 1.0
    grpo = recipe.grpo
    assert (grpo.num_generations, grpo.learning_rate, grpo.kl_beta, grpo.max_completion_length) == (5, 1e-6, 0.001, 1024)
    assert grpo.prompts_per_step * 8 * grpo.gradient_accumulation_steps == 256  # prompts per update on 8 GPUs
    config = grpo_config(tmp_path, grpo, [1.0, recipe.reward.beta])
    assert config.beta == 0.001 and config.epsilon == 0.2 and config.lr_scheduler_type == "constant"
    assert config.per_device_train_batch_size == 20 and config.gradient_accumulation_steps == 8


def test_builtin_recipes_by_name_and_unknown_names_list_them():
    from cim.train.recipe import SFTRecipe, builtin_recipe_names

    assert {"shapes-tiny", "shapes-tiny-sft", "shapes-tiny-lossy", "qwen2.5-vl-7b-paper"} <= set(builtin_recipe_names())
    lossy = load_recipe("shapes-tiny-lossy", kind=SFTRecipe)
    assert lossy.level == "lossy" and lossy.sft.freeze_vision and lossy.caption_epochs == 2
    with pytest.raises(InputError, match=r"recipe file not found \(built-in recipes: .*shapes-tiny-lossy"):
        load_recipe("shapes-huge")


def test_the_cim_plus_recipe_is_what_was_chosen_on_val():
    from pathlib import Path

    stored = json.loads((Path(__file__).parent.parent / "experiments" / "results" / "cim_plus.json").read_text())
    val, support = stored["val"], stored["support"]
    chosen = val["candidates"][val["chosen"]]
    support_options = {k: v for k, v in support["candidates"][support["chosen"]]["options"].items() if k.startswith("support")}
    assert support_options == {"support": 2.0}
    for part in ("coverage", "votes"):  # relation claims and coverage (none chosen), then relation votes (ρ 0.1)
        if stored[part]["chosen"] is not None:
            options = stored[part]["candidates"][stored[part]["chosen"]]["options"]
            support_options |= {k: v for k, v in options.items() if k.startswith(("support", "relation_votes"))}
    assert support_options == {"support": 2.0, "relation_votes": 0.1}
    plus, paper = load_recipe("shapes-tiny-plus"), load_recipe("shapes-tiny")
    assert plus.gallery == chosen["gallery"]
    assert plus.reward == paper.reward.replace(**chosen["options"], **support_options)
    assert (plus.grpo.kl_beta, plus.grpo.mask_truncated_completions) == (0.001, True)
    for part in ("repeats", "vote-share", "redundancy", "padding"):  # tried on VAL, not chosen
        assert stored[part]["chosen"] is None
    assert plus.reward.redundancy == 0.0
    assert stored["group"]["chosen"] == "group-16"  # 16 samples per prompt; the token 4-gram penalty was not chosen
    assert stored["word-repeats"]["chosen"] == "word-rep4-0.35"  # the word 4-gram penalty at p 0.35
    word = {"repetition_penalty": 0.35, "repetition_ngram": 4, "repetition_unit": "word"}
    assert {key: getattr(plus.grpo, key) for key in word} == word and plus.grpo.num_generations == 16
    unchosen = {"kl_beta": 0.0, "mask_truncated_completions": False, "num_generations": 8, "repetition_penalty": 0.0,
                "repetition_ngram": paper.grpo.repetition_ngram, "repetition_unit": "token"}  # fmt: skip
    assert plus.grpo.replace(**unchosen) == paper.grpo


def test_a_field_added_later_does_not_change_the_keys_of_cached_runs():
    from cim.train.shapes_pipeline import recipe_key

    # the key shapes-tiny had before grpo.repetition_unit existed: cached runs stay reused
    assert recipe_key(load_recipe("shapes-tiny")) == "cfe554deb7b3"
    assert "repetition_unit" in load_recipe("shapes-tiny").to_dict()["grpo"]
    assert recipe_key(load_recipe("shapes-tiny", ["grpo.repetition_unit=word"])) != "cfe554deb7b3"
