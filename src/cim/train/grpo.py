"""GRPO of a VLM captioner with the CIM reward through TRL's GRPOTrainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from cim.errors import InputError
from cim.integrations.trl import COMPONENTS, cim_reward_functions, cim_reward_weights
from cim.options import Options
from cim.reward.scorer import CIMScorer
from cim.train.guards import guard_rewards
from cim.train.trainer_args import Scheduler, common_trainer_args, progress_lines_off_terminal


class GRPOOptions(Options):
    """GRPO hyper-parameters (a subset of TRL's GRPOConfig); validated on creation.

    prompts_per_step × num_generations completions are sampled per optimiser step.
    """

    learning_rate: float = Field(1e-4, gt=0)
    prompts_per_step: int = Field(8, ge=1)  # per process and micro-step; × processes × accumulation = prompts per update
    gradient_accumulation_steps: int = Field(1, ge=1)
    epsilon: float = 0.2  # PPO clip range
    use_vllm: bool = False  # vLLM rollouts (needs vllm installed; TRL's colocate mode)
    num_generations: int = Field(8, ge=2)  # GRPO compares the samples of one prompt
    max_completion_length: int = Field(64, ge=1)
    max_steps: int = Field(100, ge=1)
    kl_beta: float = Field(0.0, ge=0)
    temperature: float = Field(1.0, gt=0)
    top_p: float = 1.0
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo"] = "dapo"
    scale_rewards: Literal["group", "batch", "none"] = "group"
    lr_scheduler: Scheduler = "constant"
    weight_decay: float = 0.0
    components: tuple[str, ...] | None = Field(None, strict=False)  # None: grc, qir (+ support when the reward has it on)
    empty_reward: float = 0.0
    seed: int = 0
    logging_steps: int = Field(10, ge=1)
    save_steps: int = Field(0, ge=0)
    gradient_checkpointing: bool = False  # TRL defaults to True; it only costs time on small models
    freeze_vision: bool = False  # train the language model only (see cim.train.policy.freeze_vision_encoder)
    threads: int | None = Field(None, ge=1)  # torch threads of generation and update (None: torch's, one per core)
    reward_threads: int | None = Field(None, ge=1)  # torch threads of the in-process scorer (None: as the policy's)
    # guards (cim.train.guards): all off by default
    repetition_penalty: float = Field(0.0, ge=0)  # p of the n-gram repetition penalty −p·(1 − distinct/total); 0: off
    repetition_ngram: int = Field(3, ge=1)  # n of that penalty
    repetition_unit: Literal["token", "word"] = "token"  # n-grams of tokenizer ids (TRL's) or of lower-case words
    sentence_repeat_penalty: float = Field(0.0, ge=0)  # p of −p·(share of sentences repeating an earlier one); 0: off
    overlong_buffer: int = Field(0, ge=0)  # DAPO's soft over-length penalty over the last N tokens; 0: off
    mask_truncated_completions: bool = False  # TRL: truncated completions contribute no loss
    multi_objective_aggregation: Literal["sum_then_normalize", "normalize_then_sum"] = "sum_then_normalize"  # TRL (GDPO)

    @model_validator(mode="after")
    def _consistent(self) -> GRPOOptions:
        if self.components is not None and (not self.components or any(c not in COMPONENTS for c in self.components)):
            raise ValueError(f"components must be a non-empty subset of {', '.join(COMPONENTS)}; got {list(self.components)}")
        if self.overlong_buffer >= self.max_completion_length:
            raise ValueError(f"overlong_buffer={self.overlong_buffer} must be below max_completion_length={self.max_completion_length}")
        return self


def grpo_config(out_dir: str | Path, options: GRPOOptions, reward_weights: list[float]):
    """TRL GRPOConfig for one process: each step samples prompts_per_step × num_generations completions."""
    from trl import GRPOConfig

    return GRPOConfig(
        **common_trainer_args(out_dir, options.seed, options.logging_steps, options.gradient_checkpointing),
        learning_rate=options.learning_rate,
        lr_scheduler_type=options.lr_scheduler,
        weight_decay=options.weight_decay,
        per_device_train_batch_size=options.prompts_per_step * options.num_generations,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        epsilon=options.epsilon,
        use_vllm=options.use_vllm,
        vllm_mode="colocate",
        num_generations=options.num_generations,
        max_completion_length=options.max_completion_length,
        max_steps=options.max_steps,
        beta=options.kl_beta,
        temperature=options.temperature,
        top_p=options.top_p,
        loss_type=options.loss_type,
        scale_rewards=options.scale_rewards,
        reward_weights=reward_weights,
        mask_truncated_completions=options.mask_truncated_completions,
        multi_objective_aggregation=options.multi_objective_aggregation,
        save_strategy="steps" if options.save_steps else "no",
        save_steps=options.save_steps or 500,
        remove_unused_columns=False,
    )


def check_grpo_dataset(dataset: Any) -> None:
    """A clear error before training when the dataset cannot feed the policy and the reward.

    The policy reads `prompt` and `image` (or `images`); the reward reads the first present of
    SOURCE_COLUMNS per row, so an image column always gives it a source.
    """
    columns = set(dataset.column_names)
    missing = [
        name
        for name, ok in (("prompt", "prompt" in columns), ("image", bool({"image", "images"} & columns)))
        if not ok
    ]
    if missing:
        raise InputError(
            f"a GRPO dataset needs the columns {missing} (an image column may be 'image' or 'images'); "
            f"it has {sorted(columns)}"
        )


def make_grpo_trainer(
    model_dir: str | Path,
    dataset: Any,
    scorer: CIMScorer,
    out_dir: str | Path,
    options: GRPOOptions | None = None,
):
    """A TRL GRPOTrainer of the VLM in `model_dir` on `dataset` with the CIM reward of `scorer`.

    Reward components reach TRL as separate functions (logged as rewards/cim_grc, rewards/cim_qir and, with
    visual support on, rewards/cim_support) weighted 1, β and λ, so TRL's total is the scorer's reward Υ.
    """
    from transformers import AutoProcessor
    from trl import GRPOTrainer

    from cim.train.policy import load_policy_for_training

    options = options or GRPOOptions()
    check_grpo_dataset(dataset)
    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise InputError(f"{path}: not an HF model folder (no config.json)")
    processor = AutoProcessor.from_pretrained(path)
    if not hasattr(processor, "image_processor"):
        raise InputError(
            f"{path}: the processor is {type(processor).__name__}, not a vision-language processor"
        )
    policy = load_policy_for_training(path, options.freeze_vision)
    guards, guard_weights = guard_rewards(
        options.repetition_penalty, options.repetition_ngram, options.overlong_buffer, options.max_completion_length,
        options.sentence_repeat_penalty, options.repetition_unit,
    )
    rewards = [*cim_reward_functions(scorer, options.components, options.empty_reward, options.reward_threads), *guards]
    weights = [*cim_reward_weights(scorer, options.components), *guard_weights]
    if "scene_id" in dataset.column_names:  # shapes prompts: log fact precision / recall, reward unchanged
        from cim.train.monitor import ShapesMonitor

        rewards, weights = [*rewards, ShapesMonitor()], [*weights, 0.0]
    trainer = GRPOTrainer(
        model=policy,
        reward_funcs=rewards,
        args=grpo_config(out_dir, options, weights),
        train_dataset=dataset,
        processing_class=processor,
    )
    progress_lines_off_terminal(trainer, "GRPO steps")
    return trainer
