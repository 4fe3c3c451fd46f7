"""Does a gallery-adapted MiniLM see relation direction? One real `cim encoder finetune` run on a shapes gallery.

    python experiments/encoder_finetune.py [--gallery shapes-2000] [--max-steps 200] [--batch-size 16]
        [--lr 5e-5] [--max-seq-length 128] [--triplets-per-caption 2] [--threads 1] [--out runs/encoder_finetune]

Fine-tunes the gallery's text encoder (the bundled MiniLM) on its own captions with automatic hard negatives
(`cim.adapt`), then reports, before and after:

- the library's held-out validation (captions never trained on, relations rewritten in phrasings that no
  training text contains): triplet accuracy by kind, mean cosine caption ↔ relation-swapped twin (as in the
  gallery and in the held-out phrasing), paraphrase recall@1;
- a second held-out test written by people: the 217 free-English captions of tests/data/paraphrases.jsonl
  (8 writers, exact facts) as anchors; positive = the gallery-style caption of the caption's facts; negative =
  the same with every relation reversed (`relation`) or two colours traded (`attribute`). This is the query →
  gallery situation of the reward: a captioner's free text against gallery captions.

A finished model in --out is reused (only the evaluation runs again). The headline JSON is the last line of
stdout and is written to experiments/results/encoder_finetune.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import torch

from cim.adapt.finetune import VALIDATION, FinetuneConfig, finetune_encoder
from cim.adapt.triplets import Triplet, ValidationSet
from cim.adapt.validate import evaluate_encoder
from cim.encoders.sbert import bundled_minilm_path
from cim.gallery.named import resolve_gallery
from cim.io import write_json
from cim.shapes import Facts, scene_from_id, swap_attributes, swap_relations, write_caption

ROOT = Path(__file__).resolve().parent.parent
PARAPHRASES = ROOT / "tests" / "data" / "paraphrases.jsonl"
RESULT = ROOT / "experiments" / "results" / "encoder_finetune.json"


def writer_triplets() -> ValidationSet:
    """Free-English anchors against gallery-style positives and negatives of the same facts."""
    data = ValidationSet({"relation": [], "attribute": []})
    for line in PARAPHRASES.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        facts = Facts(frozenset(row["objects"]), frozenset(map(tuple, row["attributes"])), frozenset(map(tuple, row["relations"])))
        order = scene_from_id(row["scene"]).shapes
        positive = write_caption(facts, None, order)
        if facts.relations:
            data.triplets["relation"].append(Triplet(row["caption"], positive, write_caption(swap_relations(facts), None, order), "relation"))
        traded = swap_attributes(facts, random.Random(row["id"]))
        if traded != facts:
            data.triplets["attribute"].append(Triplet(row["caption"], positive, write_caption(traded, None, order), "attribute"))
    return data


def writer_scores(model_path: str, data: ValidationSet) -> dict:
    from sentence_transformers import SentenceTransformer

    metrics = evaluate_encoder(SentenceTransformer(model_path, device="cpu"), data)
    return {"triplet_accuracy": metrics["triplet_accuracy"], "by_kind": metrics["by_kind"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gallery", default="shapes-2000")
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--triplets-per-caption", type=int, default=2)
    parser.add_argument("--save-steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is much faster on busy shared cores)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "encoder_finetune")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    gallery = resolve_gallery(args.gallery, lambda what, done, total: print(f"{what} {done}/{total}", file=sys.stderr))
    config = FinetuneConfig(max_steps=args.max_steps, batch_size=args.batch_size, learning_rate=args.lr,
                            max_seq_length=args.max_seq_length, triplets_per_caption=args.triplets_per_caption,
                            save_steps=args.save_steps, seed=args.seed, device="cpu")  # fmt: skip
    if (args.out / VALIDATION).is_file():
        print(f"reusing the finished model in {args.out}", file=sys.stderr)
        run = json.loads((args.out / VALIDATION).read_text(encoding="utf-8"))
    else:
        run = finetune_encoder(gallery, args.out, config, report=lambda what: print(what, file=sys.stderr))
    writers = writer_triplets()
    print("scoring the writers' captions", file=sys.stderr)
    writer_before, writer_after = writer_scores(bundled_minilm_path(), writers), writer_scores(str(args.out), writers)

    def pick(metrics: dict, kind: str | None = None) -> float | None:
        value = metrics["triplet_accuracy"] if kind is None else metrics["by_kind"].get(kind, {}).get("accuracy")
        return None if value is None else round(value, 4)

    headline = {
        "gallery": args.gallery,
        "captions": run["captions"],
        "training_triplets": run["training_triplets"],
        "steps": run["steps"],
        "settings": {"batch_size": args.batch_size, "lr": args.lr, "max_seq_length": args.max_seq_length,
                     "triplets_per_caption": args.triplets_per_caption, "seed": args.seed},  # fmt: skip
        **run["headline"],
        **{f"heldout_{kind}_accuracy_{when}": pick(run[when], kind) for kind in ("relation", "attribute") for when in ("before", "after")},
        "writers_n": {kind: len(items) for kind, items in writers.triplets.items()},
        **{f"writers_{kind}_accuracy_{when}": pick(scores, kind)
           for kind in ("relation", "attribute") for when, scores in (("before", writer_before), ("after", writer_after))},  # fmt: skip
    }
    write_json(RESULT, headline)
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
