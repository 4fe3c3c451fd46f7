"""The paper's relation QA: a text-only causal LLM answers all of an image's questions, from its caption alone.

As the release: one prompt per image with its questions numbered, greedy decoding (temperature 0), thinking
off (`enable_thinking=False` reaches the chat template), 128 new tokens. Generation runs through transformers
(batched, left padding) or, where it is installed and a GPU is present, vLLM.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import Field

from cim.errors import MissingDependencyError, OptionError
from cim.eval.qa_questions import QAQuestion, read_questions
from cim.options import Options

INSTRUCTION = (
    "Below is a description of an image, followed by {n} yes/no questions about the image. Answer every question "
    "from the description alone: Yes if the description says so, No if it says otherwise, n/a if it does not say.\n\n"
    "Description:\n{caption}\n\nQuestions:\n{questions}\n\n"
    'Reply with one line per question, "<number>. <answer>", where <answer> is exactly Yes, No or n/a. Write nothing else.'
)


def build_prompt(caption: str, questions: Sequence[QAQuestion]) -> str:
    """The user message for one image: the caption, then its questions as a numbered list."""
    numbered = "\n".join(f"{i}. {q.question}" for i, q in enumerate(questions, start=1))
    return INSTRUCTION.format(n=len(questions), caption=caption.strip(), questions=numbered)


class QAOptions(Options):
    """How the relation-QA model runs (`cim eval --qa-*`)."""

    model: str = Field(
        min_length=1, description="Hub id or folder of a text-only causal LM (the release: Qwen/Qwen3-8B)."
    )
    batch_size: int = Field(16, ge=1, description="Prompts per generate call (transformers).")
    max_new_tokens: int = Field(128, ge=1, description="New tokens per reply (the release: 128).")
    device: str | None = Field(None, description="cpu, cuda … (default: cuda if available).")
    backend: Literal["auto", "transformers", "vllm"] = Field(
        "auto", description="auto: vLLM when installed and a GPU is present."
    )


class Answerer(Protocol):
    """Turns prompts into the model's replies, in order."""

    def replies(self, prompts: Sequence[str]) -> list[str]: ...


def check_causal_lm(model: str) -> None:
    """Raise OptionError unless `model` names a loadable causal-LM config (read without loading weights)."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    try:
        config = AutoConfig.from_pretrained(model)
    except (OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OptionError(
            f"--qa-model {model!r}: not a model folder, nor a hub model available here ({reason})"
        ) from None
    causal = MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.get(config.model_type)
    architectures = list(config.architectures or [])
    if causal is None or (
        architectures
        and not any(a == causal or a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures)
    ):
        saved = f" ({', '.join(architectures)})" if architectures else ""
        raise OptionError(
            f"--qa-model {model!r}: a {config.model_type} model{saved} is not a causal language model"
        )


def render_prompts(tokenizer: Any, prompts: Sequence[str]) -> tuple[list[str], bool]:
    """Prompts as the model's chat turns where its tokenizer has a chat template (thinking off), else as they
    are; and whether the tokenizer should still add its special tokens."""
    if not getattr(tokenizer, "chat_template", None):
        return list(prompts), True
    rendered = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}],
            tokenize=False,
            add_generation_prompt=True,
            enable_thinking=False,
        )
        for p in prompts
    ]
    return rendered, False


def load_tokenizer(model: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model, padding_side="left")
    except (OSError, ValueError) as error:
        raise OptionError(
            f"--qa-model {model!r}: cannot load its tokenizer ({str(error).strip().splitlines()[0]})"
        ) from None
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise OptionError(
                f"--qa-model {model!r}: its tokenizer has neither a pad nor an end-of-sequence token"
            )
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


class TransformersAnswerer:
    """Batched greedy generation with transformers; the model loads on first use."""

    def __init__(self, options: QAOptions) -> None:
        self.options = options
        self._loaded: tuple[Any, Any, str] | None = None

    def _load(self) -> tuple[Any, Any, str]:
        if self._loaded is None:
            import torch
            from transformers import AutoModelForCausalLM

            device = self.options.device or ("cuda" if torch.cuda.is_available() else "cpu")
            tokenizer = load_tokenizer(self.options.model)
            dtype = "auto" if device.startswith("cuda") else torch.float32
            model = AutoModelForCausalLM.from_pretrained(self.options.model, dtype=dtype).to(device).eval()
            self._loaded = (model, tokenizer, device)
        return self._loaded

    def replies(self, prompts: Sequence[str]) -> list[str]:
        import torch
        from transformers import GenerationConfig

        model, tokenizer, device = self._load()
        texts, add_special = render_prompts(tokenizer, prompts)
        settings = GenerationConfig(
            do_sample=False, num_beams=1, max_new_tokens=self.options.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
            eos_token_id=model.generation_config.eos_token_id or tokenizer.eos_token_id,
        )  # fmt: skip
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths share a batch
        out: dict[int, str] = {}
        for start in range(0, len(order), self.options.batch_size):
            batch = order[start : start + self.options.batch_size]
            inputs = tokenizer(
                [texts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=add_special
            ).to(device)
            with torch.inference_mode():
                generated = model.generate(**inputs, generation_config=settings)
            new_tokens = generated[:, inputs["input_ids"].shape[1] :]
            out.update(zip(batch, tokenizer.batch_decode(new_tokens, skip_special_tokens=True)))
        return [out[i] for i in range(len(texts))]


class VLLMAnswerer:
    """Greedy generation with vLLM (it batches on its own); prompts are rendered and tokenized as above."""

    def __init__(self, options: QAOptions) -> None:
        self.options = options
        self._loaded: tuple[Any, Any] | None = None

    def replies(self, prompts: Sequence[str]) -> list[str]:
        from vllm import LLM, SamplingParams

        if self._loaded is None:
            self._loaded = (LLM(model=self.options.model), load_tokenizer(self.options.model))
        llm, tokenizer = self._loaded
        texts, add_special = render_prompts(tokenizer, prompts)
        ids = [tokenizer(text, add_special_tokens=add_special)["input_ids"] for text in texts]
        params = SamplingParams(temperature=0.0, max_tokens=self.options.max_new_tokens)
        outputs = llm.generate([{"prompt_token_ids": i} for i in ids], params, use_tqdm=False)
        return [output.outputs[0].text for output in outputs]


def load_answerer(options: QAOptions) -> Answerer:
    """The answerer of `options`, after checking that the model is a causal LM (its weights load on first use)."""
    check_causal_lm(options.model)
    has_vllm = importlib.util.find_spec("vllm") is not None
    if options.backend == "vllm" and not has_vllm:
        raise MissingDependencyError("--qa-backend vllm needs the vllm package (pip install vllm)")
    if options.backend == "vllm" or (
        options.backend == "auto" and has_vllm and options.device != "cpu" and _cuda()
    ):
        return VLLMAnswerer(options)
    return TransformersAnswerer(options)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@dataclass(frozen=True)
class RelationQA:
    """A relation-questions file and the model that answers it."""

    questions: dict[str, list[QAQuestion]]
    questions_file: str
    model: str
    answerer: Answerer


def setup_relation_qa(questions: Path | None, model: str | None, **settings: Any) -> RelationQA | None:
    """The relation QA of `cim eval --qa-questions FILE --qa-model ID|DIR` (None when neither is given);
    the file is read and the model checked before anything runs. `settings` are the other QAOptions."""
    if questions is None and model is None:
        return None
    if questions is None or model is None:
        given, missing = (
            ("--qa-model", "--qa-questions") if questions is None else ("--qa-questions", "--qa-model")
        )
        raise OptionError(f"{given} needs {missing} too (the questions file and the model that answers them)")
    parsed = read_questions(questions)
    options = QAOptions.parse({"model": model, **settings}, noun="qa option")
    return RelationQA(parsed, str(questions), model, load_answerer(options))
