"""The CIM reward's share of a GRPO step on CPU for the tiny preset (TRL GRPOTrainer, real scorer).

Runs a few GRPO steps of the tiny Qwen2.5-VL captioner on shapes train scenes with the CIM reward on the
default 20k shapes gallery, timing every scorer call; the share is reward time / training time.

    python benchmarks/grpo_step_cpu.py [--steps 10] [--prompts 8] [--generations 8] [--max-length 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import machine, report

from cim.gallery.named import ensure_shapes_gallery
from cim.reward.scorer import CIMScorer
from cim.shapes import split_scenes
from cim.train.data import grpo_dataset
from cim.train.grpo import GRPOOptions, make_grpo_trainer
from cim.train.tiny import build_tiny_vlm


class TimedScorer:
    """The scorer with the wall time of its `score` calls added up."""

    def __init__(self, scorer: CIMScorer) -> None:
        self.scorer, self.seconds, self.calls = scorer, 0.0, 0

    def score(self, *args: Any, **kwargs: Any):
        start = time.perf_counter()
        try:
            return self.scorer.score(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.scorer, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=64)
    args = parser.parse_args()
    scorer = TimedScorer(CIMScorer(ensure_shapes_gallery(20000), device="cpu"))
    options = GRPOOptions(prompts_per_step=args.prompts, num_generations=args.generations,
                          max_completion_length=args.max_length, max_steps=args.steps, logging_steps=1)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_vlm(Path(tmp) / "tiny", seed=0)
        dataset = grpo_dataset(split_scenes("train", args.prompts * args.steps), image_size=84, reward_image_size=128)
        trainer = make_grpo_trainer(model_dir, dataset, scorer, Path(tmp) / "run", options)
        start = time.perf_counter()
        trainer.train()
        total = time.perf_counter() - start
    logs = [entry for entry in trainer.state.log_history if "reward" in entry]
    headline = {
        "steps": args.steps, "completions_per_step": args.prompts * args.generations, "max_completion_length": args.max_length,
        "train_seconds": round(total, 2), "seconds_per_step": round(total / args.steps, 3),
        "reward_seconds": round(scorer.seconds, 2), "reward_calls": scorer.calls,
        "reward_share": round(scorer.seconds / total, 3),
        "mean_completion_length": round(sum(e.get("completions/mean_length", 0) for e in logs) / max(len(logs), 1), 1),
        "machine": machine(),
    }
    report("grpo_step_cpu", headline)


if __name__ == "__main__":
    main()
