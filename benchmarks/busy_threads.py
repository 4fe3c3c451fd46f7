"""Tiny GRPO and SFT steps on a quiet machine and beside one busy process, with torch's default threads and
with the per-workload setting (one thread for the tiny policy).

The busy process (a pure-Python loop that keeps one core busy) is started and stopped by this script. Each
setting runs `--steps` optimiser steps after one untimed warm-up step; a step's time is the mean of the timed
ones. Ratios: busy / quiet per setting, and each setting against the default in the same load.

    python benchmarks/busy_threads.py [--steps 4] [--sft-steps 8]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import machine, report
from transformers import TrainerCallback

from cim.gallery.named import ensure_shapes_gallery
from cim.reward.scorer import CIMScorer
from cim.shapes import split_scenes
from cim.threads import torch_threads
from cim.train.data import grpo_dataset, sft_dataset
from cim.train.grpo import GRPOOptions, make_grpo_trainer
from cim.train.sft import SFTOptions, sft_config
from cim.train.tiny import build_tiny_vlm

SETTINGS: dict[str, tuple[int | None, int | None]] = {
    "default": (None, None),
    "policy 1 thread": (1, None),
    "policy 1, reward all cores": (1, 0),
}
"""(policy threads, reward threads): None is torch's default (one per core); reward 0 means all cores."""


class StepTimes(TrainerCallback):
    """Wall time of each optimiser step."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def on_step_begin(self, *args: Any, **kwargs: Any) -> None:
        self._start = time.perf_counter()

    def on_step_end(self, *args: Any, **kwargs: Any) -> None:
        self.times.append(time.perf_counter() - self._start)


@contextmanager
def busy_core(active: bool) -> Iterator[None]:
    """One process that keeps a core busy while the block runs (nothing when not `active`)."""
    if not active:
        yield
        return
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        yield
    finally:
        process.kill()
        process.wait()


def timed(trainer: Any, threads: int | None) -> float:
    """Mean seconds per step after the first."""
    times = StepTimes()
    trainer.add_callback(times)
    with torch_threads(threads):
        trainer.train()
    return sum(times.times[1:]) / len(times.times[1:])


def grpo_step(model_dir: Path, scorer: CIMScorer, work: Path, steps: int, policy: int | None, reward: int | None) -> float:
    import os

    options = GRPOOptions(prompts_per_step=8, num_generations=8, max_completion_length=64, max_steps=steps + 1,
                          logging_steps=1, reward_threads=os.cpu_count() if reward == 0 else reward)  # fmt: skip
    dataset = grpo_dataset(split_scenes("train", 8 * (steps + 1)), image_size=84, reward_image_size=128)
    return timed(make_grpo_trainer(model_dir, dataset, scorer, work, options), policy)


def sft_step(model_dir: Path, work: Path, steps: int, threads: int | None) -> float:
    from transformers import AutoProcessor
    from trl import SFTTrainer

    from cim.train.policy import load_policy_for_training

    options = SFTOptions(max_steps=steps + 1, batch_size=32, logging_steps=1)
    dataset = sft_dataset(split_scenes("train", 32 * (steps + 1)))
    trainer = SFTTrainer(model=load_policy_for_training(model_dir), args=sft_config(work, options),
                         train_dataset=dataset, processing_class=AutoProcessor.from_pretrained(model_dir))  # fmt: skip
    return timed(trainer, threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="timed GRPO steps per setting")
    parser.add_argument("--sft-steps", type=int, default=8, help="timed SFT steps per setting")
    parser.add_argument("--gallery", default=None, help="gallery folder (default: the 20k shapes gallery)")
    args = parser.parse_args()
    scorer = CIMScorer(Path(args.gallery) if args.gallery else ensure_shapes_gallery(20000), device="cpu")
    seconds: dict[str, dict[str, dict[str, float]]] = {"grpo": {}, "sft": {}}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_vlm(Path(tmp) / "tiny", seed=0)
        for load in ("quiet", "busy"):
            with busy_core(load == "busy"):
                for name, (policy, reward) in SETTINGS.items():
                    run = Path(tmp) / f"{load}-{len(seconds['grpo'].get(load, {}))}"
                    value = grpo_step(model_dir, scorer, run / "grpo", args.steps, policy, reward)
                    seconds["grpo"].setdefault(load, {})[name] = round(value, 3)
                    print(f"grpo {load} {name}: {value:.2f} s/step", file=sys.stderr, flush=True)
                for name, threads in (("default", None), ("1 thread", 1)):
                    value = sft_step(model_dir, Path(tmp) / f"sft-{load}-{name}", args.sft_steps, threads)
                    seconds["sft"].setdefault(load, {})[name] = round(value, 3)
                    print(f"sft {load} {name}: {value:.2f} s/step", file=sys.stderr, flush=True)
    headline = {
        "seconds_per_step": seconds,
        "busy_over_quiet": {kind: {name: round(seconds[kind]["busy"][name] / seconds[kind]["quiet"][name], 2)
                                   for name in seconds[kind]["quiet"]} for kind in seconds},
        "over_default": {kind: {load: {name: round(value / times["default"], 2) for name, value in times.items()}
                                for load, times in seconds[kind].items()} for kind in seconds},
        "steps": args.steps, "sft_steps": args.sft_steps, "machine": machine(),
    }  # fmt: skip
    report("busy_threads", headline)


if __name__ == "__main__":
    main()
