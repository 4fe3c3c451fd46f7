"""Arguments every cim TRL trainer shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

Scheduler = Literal["constant", "linear", "cosine", "constant_with_warmup"]
"""Learning-rate schedules both trainers accept (transformers' names)."""


def common_trainer_args(out_dir: str | Path, seed: int, logging_steps: int, gradient_checkpointing: bool) -> dict[str, Any]:
    """bf16 only where the GPU supports it (TRL's default errors on CPUs), no external loggers, no workers,
    pinned batches only with CUDA (elsewhere torch warns that pinning does nothing)."""
    import torch

    return {
        "output_dir": str(out_dir),
        "bf16": torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        "seed": seed,
        "logging_steps": logging_steps,
        "report_to": "none",
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": torch.cuda.is_available(),
        "disable_tqdm": False,  # a progress bar even when the CLI quiets the libraries' logging
        "gradient_checkpointing": gradient_checkpointing,
    }


def progress_lines_off_terminal(trainer: Any, stage: str) -> None:
    """Where stderr is not a terminal, swap the trainer's tqdm bar for plain step lines (`cim.progress`)."""
    from transformers import TrainerCallback
    from transformers.trainer_callback import ProgressCallback

    from cim.progress import ProgressLines, on_terminal

    if on_terminal():
        return
    lines = ProgressLines()

    class StepLines(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            lines(stage, state.global_step, state.max_steps)

    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(StepLines())
