"""The fact extractor "factual:<hf id or folder>": a FACTUAL flan-t5 scene-graph parser (as CAPTURE uses).

Each caption is split into sentences (the parsers were trained on short region descriptions), every
sentence of a call is parsed in length-sorted batches with greedy decoding, and a caption's tuples are the
union of its sentences' (`factual_format` reads the generated text). The model is a
T5ForConditionalGeneration loaded with AutoTokenizer + AutoModelForSeq2SeqLM from a hub id or a local folder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cim.encoders.base import pick_device
from cim.encoders.registry import split_spec
from cim.errors import OptionError
from cim.reward.extractors.factual_format import PROMPT, FactTuple, merge, parse_factual

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences of a caption (split after . ! ? ; and at newlines), stripped, empty ones dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


class FactualExtractor:
    """A FACTUAL-style seq2seq scene-graph parser; owns batching, no_grad and device."""

    def __init__(
        self,
        spec: str,
        model_path: str,
        device: str | None = None,
        *,
        max_new_tokens: int = 128,
        max_input_tokens: int = 64,
        batch_size: int = 32,
    ) -> None:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        for name, value in (("max_new_tokens", max_new_tokens), ("max_input_tokens", max_input_tokens), ("batch_size", batch_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise OptionError(f"{name} must be a positive integer, got {value!r}")
        self.spec = spec
        self.device = pick_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(model_path).to(self.device).eval()
        self.max_new_tokens = max_new_tokens
        self.max_input_tokens = max_input_tokens
        self.batch_size = batch_size

    def generate(self, sentences: Sequence[str]) -> list[tuple[str, bool]]:
        """(generated text, cut at max_new_tokens) per sentence, in input order."""
        import torch

        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        out: list[tuple[str, bool]] = [("", False)] * len(sentences)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = self.tokenizer(
                [PROMPT + sentences[i] for i in rows], max_length=self.max_input_tokens, truncation=True,
                padding=True, return_tensors="pt",
            ).to(self.device)  # fmt: skip
            with torch.inference_mode():
                generated = self.model.generate(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], do_sample=False,
                    num_beams=1, max_new_tokens=self.max_new_tokens, decoder_start_token_id=pad,
                )  # fmt: skip
            generated = generated.cpu()  # (rows, 1 + generated tokens): the decoder start token first
            texts = self.tokenizer.batch_decode(generated, skip_special_tokens=True, clean_up_tokenization_spaces=True)
            for row, text, ids in zip(rows, texts, generated):
                out[row] = (text, eos is not None and not bool((ids[1:] == eos).any()) and len(ids) - 1 >= self.max_new_tokens)
        return out

    def extract(self, texts: Sequence[str]) -> list[frozenset[FactTuple]]:
        sentences = [split_sentences(text) for text in texts]
        flat = [s for group in sentences for s in group]
        parsed = iter([parse_factual(text, truncated) for text, truncated in self.generate(flat)] if flat else [])
        return [merge(next(parsed) for _ in group) for group in sentences]


def load(spec: str, device: str | None = None, **kwargs: int) -> FactualExtractor:
    """"factual:<hub id or local folder>", e.g. "factual:lizhuang144/flan-t5-base-VG-factual-sg"."""
    _, argument = split_spec(spec)
    if not argument:
        raise OptionError(f"fact extractor spec {spec!r} needs a model: 'factual:<hf id or folder>'")
    return FactualExtractor(spec, argument, device, **kwargs)
