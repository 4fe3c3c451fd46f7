"""The GPU benchmarks run end to end on CPU at a tiny size and report consistent numbers (so they cannot rot)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cim.train.tiny import TinyVLMConfig, build_model_config, build_tokenizer

ROOT = Path(__file__).resolve().parents[1]
TINY_ENCODER = ["--rows", "2000", "--encoder-layers", "2", "--encode-batch", "16"]


def run_benchmark(script: str, out: Path, *options: str) -> dict:
    """Run benchmarks/<script> with `options`; its last stdout line and `out` hold the same JSON headline."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT / "src"),
        "TOKENIZERS_PARALLELISM": "false",
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *options, "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    headline = json.loads(done.stdout.strip().splitlines()[-1])
    assert json.loads(out.read_text()) == headline
    return headline


def test_gpu_reward_reports_consistent_timings(tmp_path):
    captions, loop, tokens = 40, 8, 60
    r = run_benchmark(
        "gpu_reward.py",
        tmp_path / "reward.json",
        *TINY_ENCODER,
        "--hidden",
        "64",
        "--device",
        "cpu",
        "--captions",
        str(captions),
        "--loop-captions",
        str(loop),
        "--caption-tokens",
        str(tokens),
    )
    assert r["device"] == "cpu" and r["gallery_rows"] == 2000 and r["captions"] == captions
    assert r["loop_captions_timed"] == loop and r["mean_caption_tokens"] == tokens
    assert r["encoder"]["hidden"] == 64 and r["encoder"]["layers"] == 2 and r["encoder"]["max_tokens"] == 384
    assert r["encoder"]["parameters"] > 0 and "cuda" in r["machine"]
    batched, loop_ms, encode = (
        r["batched_ms_per_caption"],
        r["loop_ms_per_caption"],
        r["encode_only_ms_per_caption"],
    )
    assert min(batched, loop_ms, encode) > 0
    assert r["speedup"] == pytest.approx(loop_ms / batched, rel=0.01, abs=0.01)
    assert r["step_seconds_batched"] == pytest.approx(batched * captions / 1000, abs=2e-3)
    assert r["step_seconds_loop"] == pytest.approx(loop_ms * captions / 1000, abs=2e-3)
    assert r["search_and_scoring_share"] == pytest.approx(max(batched - encode, 0) / batched, abs=0.01)
    assert 0 <= r["search_and_scoring_share"] < 1


def test_gpu_grpo_breakdown_adds_up(tmp_path):
    steps, warmup, prompts, generations, max_length = 2, 1, 2, 2, 8
    policy = [
        "--hidden",
        "128",
        "--text-layers",
        "2",
        "--vision-hidden",
        "64",
        "--vision-layers",
        "1",
        "--heads",
        "4",
        "--kv-heads",
        "2",
    ]
    grpo = [
        "--prompts",
        str(prompts),
        "--generations",
        str(generations),
        "--max-length",
        str(max_length),
        "--steps",
        str(steps),
        "--warmup-steps",
        str(warmup),
    ]
    r = run_benchmark(
        "gpu_grpo.py", tmp_path / "grpo.json", *policy, *grpo, *TINY_ENCODER, "--encoder-hidden", "64"
    )
    assert r["device"] == "cpu" and r["steps_timed"] == steps - warmup == len(r["step_seconds_each"])
    assert (
        r["completions_per_step"] == prompts * generations and 0 < r["mean_completion_length"] <= max_length
    )
    assert r["policy"]["hidden_size"] == 128 and r["policy"]["vision_hidden_size"] == 64
    assert r["policy_parameters"] > 0 and r["encoder_parameters"] > 0 and r["gallery_rows"] == 2000
    step = r["step_seconds"]
    parts = {name: r[f"{name}_seconds"] for name in ("generation", "reward", "rollout_other", "update")}
    assert step > 0 and parts["generation"] > 0 and parts["reward"] > 0 and parts["update"] > 0
    assert parts["rollout_other"] >= 0
    assert sum(parts.values()) <= step + 1e-3  # the phases are disjoint parts of the step
    assert step == pytest.approx(sum(r["step_seconds_each"]) / len(r["step_seconds_each"]), abs=1e-3)
    for name in ("generation", "reward", "update"):
        assert r[f"{name}_share"] == pytest.approx(parts[name] / step, abs=0.01)
    assert r["reward_ms_per_caption"] == pytest.approx(
        1000 * parts["reward"] / (prompts * generations), rel=0.01, abs=0.05
    )


def test_the_vision_tower_can_be_narrower_than_the_language_model():
    config = TinyVLMConfig(hidden_size=128, vision_hidden_size=64)
    vision = build_model_config(build_tokenizer(), config).vision_config
    assert (vision.hidden_size, vision.intermediate_size, vision.out_hidden_size) == (64, 256, 128)
    with pytest.raises(ValueError, match="vision_hidden_size 60 must split into num_heads 4"):
        TinyVLMConfig(vision_hidden_size=60)
