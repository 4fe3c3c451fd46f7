"""Supervised fine-tuning of a VLM captioner on prompt + completion rows with TRL's SFTTrainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from cim.errors import InputError
from cim.options import Options
from cim.threads import torch_threads
from cim.train.trainer_args import Scheduler, common_trainer_args, progress_lines_off_terminal


class SFTOptions(Options):
    """SFT hyper-parameters (a subset of TRL's SFTConfig); validated on creation."""

    learning_rate: float = Field(1e-3, gt=0)
    batch_size: int = Field(32, ge=1)
    epochs: float = 1.0
    max_steps: int = -1
    lr_scheduler: Scheduler = "cosine"
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    weight_decay: float = 0.0
    seed: int = 0
    logging_steps: int = Field(25, ge=1)
    save_steps: int = Field(0, ge=0)  # checkpoint every N steps (0: none); a run resumes from its last checkpoint
    threads: int | None = Field(None, ge=1)  # torch threads of the update (None: torch's, one per core)
    gradient_checkpointing: bool = False  # TRL defaults to True; it only costs time on small models
    freeze_vision: bool = False  # train the language model only (see cim.train.policy.freeze_vision_encoder)


def last_checkpoint(folder: str | Path) -> str | None:
    """The newest "checkpoint-N" folder a trainer wrote in `folder`, or None."""
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if Path(folder).is_dir() else None


def sft_config(out_dir: str | Path, options: SFTOptions):
    """TRL SFTConfig for captioning rows (completion-only loss, no checkpoints, CPU-friendly)."""
    from trl import SFTConfig

    return SFTConfig(
        **common_trainer_args(out_dir, options.seed, options.logging_steps, options.gradient_checkpointing),
        learning_rate=options.learning_rate,
        per_device_train_batch_size=options.batch_size,
        num_train_epochs=options.epochs,
        max_steps=options.max_steps,
        lr_scheduler_type=options.lr_scheduler,
        warmup_steps=options.warmup_ratio,  # transformers 5: a value below 1 is a fraction of the steps
        weight_decay=options.weight_decay,
        save_strategy="steps" if options.save_steps else "no",
        save_steps=options.save_steps or 500,
        completion_only_loss=True,
        max_length=None,
    )


def train_sft(
    model_dir: str | Path,
    dataset: Any,
    out_dir: str | Path,
    options: SFTOptions | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
) -> Path:
    """Fine-tune the model in `model_dir` on `dataset` (see `cim.train.data.sft_dataset`); save to `out_dir`.

    With `resume`, training continues from the last checkpoint in `checkpoint_dir` (written every
    `options.save_steps`). Returns `out_dir`, an HF model folder with the processor beside the weights; the trainer's log
    history is in `trainer_state.json` there.
    """
    from transformers import AutoProcessor
    from trl import SFTTrainer

    from cim.train.policy import load_policy_for_training

    options = options or SFTOptions()
    missing = {"prompt", "completion", "image"} - set(dataset.column_names)
    if missing:
        raise InputError(f"SFT dataset lacks columns {sorted(missing)}; it has {dataset.column_names}")
    out = Path(out_dir)
    model = load_policy_for_training(model_dir, options.freeze_vision)
    processor = AutoProcessor.from_pretrained(model_dir)
    checkpoints = Path(checkpoint_dir) if checkpoint_dir is not None else out
    trainer = SFTTrainer(
        model=model, args=sft_config(checkpoints, options), train_dataset=dataset, processing_class=processor
    )
    progress_lines_off_terminal(trainer, "SFT steps")
    with torch_threads(options.threads):
        trainer.train(resume_from_checkpoint=last_checkpoint(checkpoints) if resume else None)
    trainer.save_model(str(out))
    trainer.state.save_to_json(str(out / "trainer_state.json"))
    processor.save_pretrained(out)
    return out
