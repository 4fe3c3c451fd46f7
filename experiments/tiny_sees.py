"""Can the tiny preset see? SFT on 84 px train scenes with complete captions, then on held-out val scenes:
greedy-caption fact precision / recall, and caption loss with real vs shuffled images.

    python experiments/tiny_sees.py [--steps 750] [--out runs/tiny_sees]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch

from cim.shapes import caption_for_level, fact_scores, read_facts, render_scene, split_scenes
from cim.train.captioning import caption_loss, generate_captions, load_policy
from cim.train.data import sft_dataset
from cim.train.sft import SFTOptions, train_sft
from cim.train.tiny import build_tiny_vlm, count_parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=750)
    parser.add_argument("--train-scenes", type=int, default=2000)
    parser.add_argument("--val-scenes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/tiny_sees"))
    args = parser.parse_args()

    start = time.perf_counter()
    base = build_tiny_vlm(args.out / "base", seed=args.seed)
    dataset = sft_dataset(split_scenes("train", args.train_scenes), "complete", seed=args.seed)
    options = SFTOptions(
        learning_rate=1e-3, batch_size=32, max_steps=args.steps, seed=args.seed, logging_steps=50
    )
    model_dir = train_sft(base, dataset, args.out / "sft", options)
    train_s = time.perf_counter() - start

    model, processor = load_policy(model_dir)
    scenes = split_scenes("val", args.val_scenes)
    images = [render_scene(scene, 84) for scene in scenes]
    references = [caption_for_level(scene, "complete") for scene in scenes]
    captions = generate_captions(model, processor, images, max_new_tokens=80)
    scores = [fact_scores(read_facts(c), s.facts()) for c, s in zip(captions, scenes)]
    mean = {key: sum(s[key] for s in scores) / len(scores) for key in scores[0]}
    shuffled = images[:]
    random.Random(args.seed).shuffle(shuffled)
    history = json.loads((model_dir / "trainer_state.json").read_text())["log_history"]
    result = {
        "parameters": count_parameters(model),
        "steps": args.steps,
        "train_seconds": round(train_s, 1),
        "threads": torch.get_num_threads(),
        "train_loss_log": [(h["step"], round(h["loss"], 4)) for h in history if "loss" in h],
        "val_loss_real_images": caption_loss(model, processor, images, references),
        "val_loss_shuffled_images": caption_loss(model, processor, shuffled, references),
        "val_fact_scores": mean,
        "examples": [
            {"scene": s.id, "caption": c, "reference": r} for s, c, r in zip(scenes[:5], captions, references)
        ],
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "train_loss_log"}, indent=2))


if __name__ == "__main__":
    main()
