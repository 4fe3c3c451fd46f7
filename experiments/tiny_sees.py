"""Can the tiny preset see? SFT on 84 px train scenes with complete captions, then on held-out VAL scenes:
greedy-caption fact precision / recall (objects, attributes, relations) and caption loss with real vs
shuffled images (a model that uses the image loses much more with shuffled images).

    python experiments/tiny_sees.py [--steps 750] [--lr 1e-3] [--scheduler cosine] [--hidden-size 128]
        [--vision-layers 3] [--text-layers 3] [--train-scenes 2000] [--out runs/tiny_sees]

Writes `result.json` (everything, with the training-loss log and example captions) and `headline.json`
to --out; the headline is also the last line of stdout. The test split is never used.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import typing
from dataclasses import asdict, replace
from pathlib import Path

import torch

from cim.shapes import caption_for_level, fact_scores, read_facts, render_scene, split_scenes
from cim.train.captioning import caption_loss, generate_captions, load_policy
from cim.train.data import sft_dataset
from cim.train.sft import SFTOptions, train_sft
from cim.train.tiny import TinyVLMConfig, build_tiny_vlm, count_parameters
from cim.train.trainer_args import Scheduler


def main() -> None:
    defaults = TinyVLMConfig()
    sft_defaults = SFTOptions()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=750)
    parser.add_argument("--lr", type=float, default=sft_defaults.learning_rate)
    parser.add_argument("--scheduler", choices=typing.get_args(Scheduler), default=sft_defaults.lr_scheduler)
    parser.add_argument("--batch-size", type=int, default=sft_defaults.batch_size)
    parser.add_argument("--hidden-size", type=int, default=defaults.hidden_size)
    parser.add_argument("--vision-layers", type=int, default=defaults.vision_layers)
    parser.add_argument("--text-layers", type=int, default=defaults.text_layers)
    parser.add_argument("--num-heads", type=int, default=defaults.num_heads)
    parser.add_argument("--freeze-vision", action="store_true", help="train the language model only")
    parser.add_argument("--train-scenes", type=int, default=2000)
    parser.add_argument("--val-scenes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/tiny_sees"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    config = replace(
        defaults,
        hidden_size=args.hidden_size,
        vision_layers=args.vision_layers,
        text_layers=args.text_layers,
        num_heads=args.num_heads,
    )
    options = SFTOptions(
        learning_rate=args.lr,
        batch_size=args.batch_size,
        max_steps=args.steps,
        lr_scheduler=args.scheduler,
        seed=args.seed,
        logging_steps=50,
        threads=args.threads,
        freeze_vision=args.freeze_vision,
    )
    start = time.perf_counter()
    base = build_tiny_vlm(args.out / "base", seed=args.seed, config=config)
    dataset = sft_dataset(split_scenes("train", args.train_scenes), "complete", seed=args.seed)
    model_dir = train_sft(base, dataset, args.out / "sft", options)
    train_s = time.perf_counter() - start

    model, processor = load_policy(model_dir)
    scenes = split_scenes("val", args.val_scenes)
    images = [render_scene(scene, config.image_size) for scene in scenes]
    references = [caption_for_level(scene, "complete") for scene in scenes]
    captions = generate_captions(model, processor, images, max_new_tokens=120)
    scores = [fact_scores(read_facts(c), s.facts()) for c, s in zip(captions, scenes)]
    mean = {key: round(sum(s[key] for s in scores) / len(scores), 4) for key in scores[0]}
    shuffled = images[:]
    random.Random(args.seed).shuffle(shuffled)
    history = json.loads((model_dir / "trainer_state.json").read_text())["log_history"]
    loss_real = caption_loss(model, processor, images, references)
    loss_shuffled = caption_loss(model, processor, shuffled, references)
    headline = {
        "config": asdict(config),
        "sft": {
            k: v for k, v in options.to_dict().items() if k in ("learning_rate", "batch_size", "lr_scheduler", "freeze_vision")
        },
        "train_scenes": args.train_scenes,
        "val_scenes": args.val_scenes,
        "parameters": count_parameters(model),
        "steps": args.steps,
        "train_seconds": round(train_s, 1),
        "threads": torch.get_num_threads(),
        "val_loss_real_images": round(loss_real, 4),
        "val_loss_shuffled_images": round(loss_shuffled, 4),
        **{
            k: mean[k]
            for k in (
                "object_precision",
                "object_recall",
                "attribute_f1",
                "relation_precision",
                "relation_recall",
                "relation_f1",
            )
        },
    }
    result = headline | {
        "val_fact_scores": mean,
        "train_loss_log": [(h["step"], round(h["loss"], 4)) for h in history if "loss" in h],
        "examples": [
            {"scene": s.id, "caption": c, "reference": r} for s, c, r in zip(scenes[:5], captions, references)
        ],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "result.json").write_text(json.dumps(result, indent=2))
    (args.out / "headline.json").write_text(json.dumps(headline))
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
