"""Captions from a VLM policy (greedy by default) and the loss of given captions, for evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from cim.train.data import caption_messages
from cim.train.tiny import PROMPT


def load_policy(path: str | Path, device: str = "cpu") -> tuple[Any, Any]:
    """(model, processor) of a saved HF vision-language model folder, in eval mode."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(path).to(device).eval()
    return model, AutoProcessor.from_pretrained(path)


def _prompt_text(processor: Any, prompt: str) -> str:
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


@torch.no_grad()
def generate_captions(
    model: Any,
    processor: Any,
    images: Sequence[Image.Image],
    max_new_tokens: int = 64,
    batch_size: int = 32,
    prompt: str = PROMPT,
    **generate_kwargs: Any,
) -> list[str]:
    """One caption per image (greedy unless `generate_kwargs` say otherwise), special tokens stripped."""
    text = _prompt_text(processor, prompt)
    captions: list[str] = []
    settings = {"do_sample": False, "max_new_tokens": max_new_tokens} | generate_kwargs
    for start in range(0, len(images), batch_size):
        part = list(images[start : start + batch_size])
        inputs = processor(text=[text] * len(part), images=part, return_tensors="pt", padding=True)
        inputs = inputs.to(model.device)
        output = model.generate(**inputs, **settings)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        captions += [c.strip() for c in processor.batch_decode(new_tokens, skip_special_tokens=True)]
    return captions


@torch.no_grad()
def caption_loss(
    model: Any,
    processor: Any,
    images: Sequence[Image.Image],
    captions: Sequence[str],
    batch_size: int = 32,
    prompt: str = PROMPT,
) -> float:
    """Mean token cross-entropy of `captions` (and the end-of-turn token) given their images and the prompt."""
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    collator = DataCollatorForVisionLanguageModeling(processor, completion_only_loss=True)
    total, count = 0.0, 0
    for start in range(0, len(images), batch_size):
        examples = [
            {
                "image": image,
                "prompt": caption_messages(prompt),
                "completion": [{"role": "assistant", "content": caption}],
            }
            for image, caption in zip(
                images[start : start + batch_size], captions[start : start + batch_size]
            )
        ]
        batch = collator(examples).to(model.device)
        labels = batch.pop("labels")
        logits = model(**batch).logits[:, :-1]  # (b, t-1, vocab) predicts tokens 1..t-1
        targets = labels[:, 1:]
        mask = targets != -100
        losses = torch.nn.functional.cross_entropy(logits[mask], targets[mask], reduction="sum")
        total, count = total + float(losses), count + int(mask.sum())
    return total / max(count, 1)
