"""Fine-tune a gallery's text encoder on the gallery's own captions with automatic hard negatives.

sentence-transformers' own trainer and loss do the work: SentenceTransformerTrainer with
MultipleNegativesRankingLoss on (anchor, positive, negative) triplets (`cim.adapt.triplets`), so every other
caption in a batch is a negative too and the hard negative is the one that differs in a single relation or
attribute. The output folder is an ordinary sentence-transformers model (`sbert:OUT`):

    OUT/finetune.json     the plan: gallery, base encoder, settings (a rerun must match it to resume)
    OUT/checkpoints/      trainer checkpoints every `save_steps` (removed once the model is saved)
    OUT/modules.json ...  the fine-tuned model, saved with the base's max_seq_length
    OUT/validation.json   held-out metrics before and after; written last: its presence marks a finished run

A killed run resumes from its last checkpoint when the same command is run again.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cim.adapt.triplets import ValidationSet, split_captions, training_triplets, validation_set
from cim.adapt.validate import evaluate_encoder
from cim.encoders.registry import split_spec
from cim.errors import InputError, OptionError, check_positive
from cim.gallery.store import Gallery
from cim.io import write_json

MIN_CAPTIONS = 200
"""Fewest distinct captions a gallery needs to be fine-tuned on (fewer over-fit; tests lower it)."""
PLAN = "finetune.json"
VALIDATION = "validation.json"
CHECKPOINTS = "checkpoints"
SENTENCE_TRANSFORMERS_FILES = ("modules.json", "config_sentence_transformers.json")
RUNTIME_FIELDS = ("max_steps", "epochs", "save_steps", "device", "min_captions")
"""Settings a resumed run may change (how long it runs, where); the others must match the plan."""
Report = Callable[[str], None]


@dataclass(frozen=True)
class FinetuneConfig:
    """How the encoder is fine-tuned; validated on creation."""

    base: str | None = None  # text encoder spec to start from; None: the gallery's (manifest text_encoder.spec)
    max_steps: int | None = None  # optimiser steps; None: `epochs` passes over the training triplets
    epochs: float = 1.0
    batch_size: int = 32  # triplets per step (MultipleNegativesRankingLoss: 2·batch_size - 1 negatives each)
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    max_seq_length: int | None = None  # token limit while training (None: the base's); the saved model keeps the base's
    triplets_per_caption: int = 1
    val_fraction: float = 0.1  # distinct captions held out for validation ...
    max_val_captions: int = 500  # ... at most this many
    save_steps: int = 100
    seed: int = 0
    min_captions: int = MIN_CAPTIONS
    device: str | None = None  # "cpu" or "cuda"; None: cuda if available

    def __post_init__(self) -> None:
        for name in ("batch_size", "triplets_per_caption", "max_val_captions", "save_steps", "min_captions"):
            check_positive(name, getattr(self, name))
        for name in ("max_steps", "max_seq_length"):
            if getattr(self, name) is not None:
                check_positive(name, getattr(self, name))
        if not self.epochs > 0:
            raise OptionError(f"epochs must be above 0, got {self.epochs!r}")
        if not self.learning_rate > 0:
            raise OptionError(f"learning_rate must be above 0, got {self.learning_rate!r}")
        if not 0 <= self.warmup_ratio < 1:
            raise OptionError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}")
        if not 0 < self.val_fraction < 1:
            raise OptionError(f"val_fraction must be in (0, 1), got {self.val_fraction!r}")
        if self.device not in (None, "cpu", "cuda"):
            raise OptionError(f"device must be cpu or cuda, got {self.device!r}")


def base_model_path(spec: str) -> str:
    """The folder (or hub id) a text encoder spec loads from; only sentence-transformers encoders qualify."""
    from cim.encoders.sbert import bundled_minilm_path

    name, argument = split_spec(spec)
    if name == "minilm":
        return bundled_minilm_path()
    if name != "sbert" or not argument:
        raise OptionError(f"text encoder {spec!r} cannot be fine-tuned: only sentence-transformers encoders can "
                          "(minilm or sbert:<folder>); give one with --base")  # fmt: skip
    path = Path(argument).expanduser()
    if path.is_dir() and not any((path / name).is_file() for name in SENTENCE_TRANSFORMERS_FILES):
        raise InputError(f"not a sentence-transformers model folder (no {' or '.join(SENTENCE_TRANSFORMERS_FILES)})",
                         source=str(path))  # fmt: skip
    if path.exists() and not path.is_dir():
        raise InputError("a sentence-transformers model must be a folder", source=str(path))
    return str(path) if path.is_dir() else argument  # otherwise a hub id


def check_out(out: Path) -> None:
    """Refuse an --out that holds a finished model or something other than an unfinished fine-tune."""
    if out.exists() and not out.is_dir():
        raise InputError("--out must be a folder, not a file", source=str(out))
    if (out / VALIDATION).is_file():
        raise InputError("--out already holds a finished fine-tuned model; choose another --out or delete it", source=str(out))
    if out.is_dir() and any(out.iterdir()) and not (out / PLAN).is_file():
        what = "a sentence-transformers model" if (out / "modules.json").is_file() else "files"
        raise InputError(f"--out holds {what} not made by `cim encoder finetune`; choose an empty or new folder", source=str(out))


def _check_or_write_plan(out: Path, plan: dict[str, Any]) -> None:
    path = out / PLAN
    if path.is_file():
        existing = json.loads(path.read_text(encoding="utf-8"))
        if existing != json.loads(json.dumps(plan)):
            differ = sorted(k for k in {*existing, *plan} if existing.get(k) != json.loads(json.dumps(plan)).get(k))
            raise InputError(f"an unfinished fine-tune with other settings is here (differs in: {', '.join(differ)}); "
                             "rerun with the same options to resume, or delete the folder", source=str(out))  # fmt: skip
        return
    write_json(path, plan)


@dataclass
class _Prepared:
    gallery: Gallery
    base: str
    base_path: str
    train: list
    kinds: dict[str, int]
    n_captions: dict[str, int]
    validation: ValidationSet
    plan: dict[str, Any]


def prepare(gallery_dir: Path, out: Path, config: FinetuneConfig) -> _Prepared:
    """Every check that needs no model: --out, the gallery, the base encoder, caption count, triplets."""
    check_out(out)
    gallery = Gallery.load(gallery_dir)
    base = config.base or gallery.manifest.text_encoder.spec
    base_path = base_model_path(base)
    train, held = split_captions(gallery.captions, config.val_fraction, config.max_val_captions, config.seed)
    distinct = len(train) + len(held)
    if distinct < config.min_captions:
        raise InputError(f"the gallery has {distinct} distinct captions, fewer than --min-captions {config.min_captions} "
                         "(a fine-tune on so few over-fits; lower --min-captions to try anyway)", source=str(gallery_dir))  # fmt: skip
    triplets, kinds = training_triplets(train, config.seed, config.triplets_per_caption)
    if not triplets:
        raise InputError("no hard negative could be made from any caption (no relation phrase, attribute adjective, "
                         "two objects or four-word sentence)", source=str(gallery_dir))  # fmt: skip
    settings = {k: v for k, v in asdict(config).items() if k not in RUNTIME_FIELDS and k != "base"}
    plan = {"gallery": str(Path(gallery_dir).resolve()), "gallery_content_hash": gallery.manifest.content_hash,
            "base": base, "settings": settings}  # fmt: skip
    counts = {"distinct": distinct, "train": len(train), "heldout": len(held)}
    return _Prepared(gallery, base, base_path, triplets, dict(kinds), counts, validation_set(held, config.seed + 1), plan)


def _training_args(out: Path, config: FinetuneConfig) -> Any:
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    return SentenceTransformerTrainingArguments(
        output_dir=str(out / CHECKPOINTS),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,
        seed=config.seed,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        logging_steps=max(1, min(50, config.save_steps)),
        batch_sampler=BatchSamplers.NO_DUPLICATES,  # an in-batch duplicate would be a false negative
        use_cpu=config.device == "cpu",
        report_to="none",
        dataloader_num_workers=0,
        disable_tqdm=False,
    )


def _last_checkpoint(out: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = out / CHECKPOINTS
    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def finetune_encoder(
    gallery_dir: str | Path,
    out: str | Path,
    config: FinetuneConfig = FinetuneConfig(),
    report: Report | None = None,
    callbacks: list | None = None,
) -> dict[str, Any]:
    """Fine-tune the gallery's text encoder (or config.base) into OUT; returns what OUT/validation.json holds.

    `report` is told each stage; `callbacks` are extra transformers TrainerCallbacks.
    """
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    out, say = Path(out), report or (lambda _: None)
    prep = prepare(Path(gallery_dir), out, config)
    out.mkdir(parents=True, exist_ok=True)
    _check_or_write_plan(out, prep.plan)
    model = SentenceTransformer(prep.base_path, device=config.device)
    deployed_length = model.max_seq_length
    say(f"held-out metrics of the base encoder {prep.base}")
    before = evaluate_encoder(model, prep.validation)
    if config.max_seq_length:
        model.max_seq_length = config.max_seq_length
    data = Dataset.from_dict({"anchor": [t.anchor for t in prep.train], "positive": [t.positive for t in prep.train],
                              "negative": [t.negative for t in prep.train]})  # fmt: skip
    trainer = SentenceTransformerTrainer(model=model, args=_training_args(out, config), train_dataset=data,
                                         loss=MultipleNegativesRankingLoss(model), callbacks=callbacks)  # fmt: skip
    resume = _last_checkpoint(out)
    say(f"training on {len(prep.train)} triplets" + (f", resuming from {Path(resume).name}" if resume else ""))
    output = trainer.train(resume_from_checkpoint=resume)
    model.max_seq_length = deployed_length
    model.save(str(out))
    say("held-out metrics of the fine-tuned encoder")
    after = evaluate_encoder(model, prep.validation)
    result = {
        "base": prep.base,
        "gallery": prep.plan["gallery"],
        "gallery_content_hash": prep.plan["gallery_content_hash"],
        "model": f"sbert:{out.resolve()}",
        "captions": prep.n_captions,
        "training_triplets": {"total": len(prep.train), **prep.kinds},
        "validation_items": prep.validation.counts(),
        "steps": trainer.state.global_step,
        "resumed_from_step": int(Path(resume).name.rsplit("-", 1)[-1]) if resume else None,
        "train_loss": output.training_loss,
        "max_seq_length": {"training": config.max_seq_length or deployed_length, "saved": deployed_length},
        "before": before,
        "after": after,
        "headline": headline(before, after),
    }
    write_json(out / VALIDATION, result)
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
    return result


def headline(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float | None]:
    """The figures worth one line: held-out triplet accuracy and twin cosines, before → after."""
    keys = ("triplet_accuracy", "twin_cosine", "heldout_twin_cosine", "paraphrase_recall_at_1")
    rounded = {}
    for key in keys:
        for when, metrics in (("before", before), ("after", after)):
            value = metrics.get(key)
            rounded[f"{key}_{when}"] = None if value is None else round(value, 4)
    return rounded
