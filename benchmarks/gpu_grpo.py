"""Step-time breakdown of TRL GRPO on one GPU: generation, CIM reward and update, for a random-init Qwen2.5-VL-shaped
policy of about 1.5B parameters and the reward of gpu_reward.py (random-init MPNet, 1M-row random gallery).

The policy is the tiny preset's architecture at other sizes (cim.train.tiny; the shapes word-level tokenizer, 84 px
images, a small vision tower), trained by the project's make_grpo_trainer on shapes prompts whose reward sources are
gallery ids. Phases are timed by wrapping TRL 1.16's GRPOTrainer methods and marking steps with callbacks (CUDA
synchronised at every mark); the first `--warmup-steps` steps are not counted:

    generation  GRPOTrainer._generate: prompt processing and sampling the completions
    reward      GRPOTrainer._calculate_rewards: the CIM reward functions (one scoring per batch)
    rollout_other  the rest of GRPOTrainer._prepare_inputs: padding, reference log-probs (KL), advantages
    update      step begin to optimizer step, less _prepare_inputs: loss forward, backward, clipping, AdamW
    step        on_step_begin to on_step_end (the parts above plus scheduler and zero_grad)

    python benchmarks/gpu_grpo.py                       # needs trl; about 1.5B parameters, 16 prompts × 5 samples
    python benchmarks/gpu_grpo.py --hidden 128 --text-layers 2 --vision-hidden 64 --vision-layers 1 --heads 4 \\
        --kv-heads 2 --rows 2000 --encoder-hidden 64 --encoder-layers 2 --prompts 2 --generations 2 --max-length 8 \\
        --steps 2 --out /tmp/g.json                     # a CPU smoke run
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from statistics import mean
from typing import Any

import torch
from _common import machine, report
from _release_scale import encoder_parameters, release_scorer
from transformers import TrainerCallback

from cim.shapes import split_scenes
from cim.train.data import grpo_dataset
from cim.train.grpo import GRPOOptions, make_grpo_trainer
from cim.train.tiny import TinyVLMConfig, build_tiny_vlm, count_parameters

PHASES = {"_generate": "generation", "_calculate_rewards": "reward", "_prepare_inputs": "rollout"}
"""GRPOTrainer method (TRL 1.16) → the phase its calls are timed into."""


class PhaseClock:
    """Wall seconds per phase per optimiser step, from wrapped trainer methods and step marks."""

    def __init__(self) -> None:
        self.steps: list[dict[str, float]] = []

    @staticmethod
    def now() -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter()

    def mark(self, name: str) -> None:
        """Record a moment of the current step ("begin" opens a new one)."""
        if name == "begin":
            self.steps.append(defaultdict(float))
        self.steps[-1][name] = self.now()

    def wrap(self, owner: Any, method: str, phase: str) -> None:
        """Replace owner.method by a timed call adding its seconds to `phase` of the current step."""
        original: Callable[..., Any] | None = getattr(owner, method, None)
        if not callable(original):
            raise RuntimeError(
                f"{type(owner).__name__} has no method {method!r}: this benchmark hooks TRL 1.16's names"
            )

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = self.now()
            try:
                return original(*args, **kwargs)
            finally:
                self.steps[-1][phase] += self.now() - start

        setattr(owner, method, timed)


class StepMarks(TrainerCallback):
    """Marks each step's begin, optimizer step and end on a PhaseClock."""

    def __init__(self, clock: PhaseClock) -> None:
        self.clock = clock

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.clock.mark("begin")

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.clock.mark("optimized")

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.clock.mark("end")


def step_phases(step: dict[str, float]) -> dict[str, float]:
    """Seconds of the reported phases of one step."""
    return {
        "generation": step["generation"],
        "reward": step["reward"],
        "rollout_other": step["rollout"] - step["generation"] - step["reward"],
        "update": step["optimized"] - step["begin"] - step["rollout"],
        "step": step["end"] - step["begin"],
    }


def breakdown(steps: list[dict[str, float]], completions: int) -> dict[str, Any]:
    """Mean seconds per phase over the timed steps, each phase's share of the step, reward ms per caption."""
    phases = [step_phases(step) for step in steps]
    means = {name: mean(p[name] for p in phases) for name in phases[0]}
    return {
        **{f"{name}_seconds": round(value, 4) for name, value in means.items()},
        **{
            f"{name}_share": round(means[name] / means["step"], 3)
            for name in ("generation", "reward", "update")
        },
        "reward_ms_per_caption": round(1000 * means["reward"] / completions, 3),
        "step_seconds_each": [round(p["step"], 4) for p in phases],
    }


def policy_config(args: argparse.Namespace) -> TinyVLMConfig:
    return TinyVLMConfig(
        hidden_size=args.hidden,
        text_layers=args.text_layers,
        vision_layers=args.vision_layers,
        num_heads=args.heads,
        num_kv_heads=args.kv_heads,
        vision_hidden_size=args.vision_hidden,
        max_positions=max(512, args.max_length + 128),
    )


def prompts_dataset(n: int, gallery_ids: list[str]):
    """n shapes prompts whose reward source is gallery item i (no scene_id: no shapes monitor in the reward time)."""
    dataset = grpo_dataset(split_scenes("train", n), reward_image_size=None).remove_columns("scene_id")
    return dataset.add_column("source_id", [gallery_ids[i % len(gallery_ids)] for i in range(n)])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_argument_group("policy (Qwen2.5-VL architecture, random init)")
    size.add_argument("--hidden", type=int, default=2048)
    size.add_argument("--text-layers", type=int, default=24)
    size.add_argument("--heads", type=int, default=16)
    size.add_argument("--kv-heads", type=int, default=2)
    size.add_argument("--vision-hidden", type=int, default=1024)
    size.add_argument("--vision-layers", type=int, default=4)
    grpo = parser.add_argument_group("GRPO")
    grpo.add_argument("--prompts", type=int, default=16, help="prompts per step")
    grpo.add_argument("--generations", type=int, default=5, help="samples per prompt (the release's group)")
    grpo.add_argument("--max-length", type=int, default=200, help="max completion tokens")
    grpo.add_argument(
        "--kl-beta", type=float, default=0.001, help="KL coefficient (the release's; 0: no reference model)"
    )
    grpo.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=True)
    grpo.add_argument("--steps", type=int, default=3, help="optimiser steps run")
    grpo.add_argument("--warmup-steps", type=int, default=1, help="first steps not timed")
    reward = parser.add_argument_group("reward (as gpu_reward.py)")
    reward.add_argument("--rows", type=int, default=1_000_000)
    reward.add_argument("--encoder-hidden", type=int, default=768)
    reward.add_argument("--encoder-layers", type=int, default=12)
    reward.add_argument("--encode-batch", type=int, default=64)
    parser.add_argument("--out", type=Path, help="results file (default benchmarks/results/gpu_grpo.json)")
    args = parser.parse_args()
    if not 0 <= args.warmup_steps < args.steps:
        parser.error(f"--warmup-steps must be in 0..{args.steps - 1} so that at least one step is timed")
    return args


def train_timed(args: argparse.Namespace, config: TinyVLMConfig) -> tuple[Any, int, list[dict[str, float]]]:
    """Run the GRPO steps with phase timers: the trainer, the reward encoder's parameters and the timed steps."""
    options = GRPOOptions(
        prompts_per_step=args.prompts,
        num_generations=args.generations,
        max_completion_length=args.max_length,
        max_steps=args.steps,
        kl_beta=args.kl_beta,
        gradient_checkpointing=args.gradient_checkpointing,
        logging_steps=1,
    )
    clock = PhaseClock()
    with tempfile.TemporaryDirectory() as tmp:
        scorer = release_scorer(
            Path(tmp), args.rows, args.encoder_hidden, args.encoder_layers, None, args.encode_batch
        )
        model_dir = build_tiny_vlm(Path(tmp) / "policy", seed=0, config=config)
        dataset = prompts_dataset(args.prompts * args.steps, scorer.gallery.ids)
        trainer = make_grpo_trainer(model_dir, dataset, scorer, Path(tmp) / "run", options)
        for method, phase in PHASES.items():
            clock.wrap(trainer, method, phase)
        trainer.add_callback(StepMarks(clock))
        trainer.train()
    return trainer, encoder_parameters(scorer), clock.steps[args.warmup_steps :]


def main() -> None:
    args = parse_args()
    config = policy_config(args)
    trainer, encoder_size, timed = train_timed(args, config)
    lengths = [
        e["completions/mean_length"] for e in trainer.state.log_history if "completions/mean_length" in e
    ]
    headline = {
        "device": str(trainer.accelerator.device),
        "steps_timed": len(timed),
        "warmup_steps": args.warmup_steps,
        "completions_per_step": args.prompts * args.generations,
        "max_completion_length": args.max_length,
        "mean_completion_length": round(mean(lengths[args.warmup_steps :]), 1),
        "policy_parameters": count_parameters(trainer.model),
        "policy": asdict(config),
        "kl_beta": args.kl_beta,
        "gradient_checkpointing": args.gradient_checkpointing,
        "bf16": trainer.args.bf16,
        "gallery_rows": args.rows,
        "encoder_parameters": encoder_size,
        **breakdown(timed, args.prompts * args.generations),
        "machine": machine(),
    }
    report("gpu_grpo", headline, args.out)


if __name__ == "__main__":
    main()
