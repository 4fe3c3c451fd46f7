"""The `tiny` policy preset: a from-scratch Qwen2.5-VL-architecture captioner for the shapes world.

No download: the model is random-initialised from a config, the tokenizer is word-level over the
shapes vocabulary (caption grammar, prompt, digits, punctuation, chat-template specials) and the
processor is a Qwen2_5_VLProcessor built locally. An 84 px scene is cut into 14 px patches merged
2×2, so each of the 3×3 grid's 28 px cells becomes exactly one vision token for the language model.
The result is an ordinary HF model folder (AutoModelForImageTextToText / AutoProcessor).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from cim.shapes.vocab import BACKGROUND, COLOUR_NAMES, GRID, RELATIONS, SHAPES, SIZES

PROMPT = "Caption this image as accurately as possible, without speculation. Describe what you see."
"""The paper's captioning prompt."""

IM_START, IM_END, PAD, UNK = "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<unk>"
VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD = (
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, IM_START, IM_END, VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD)
META = "\u2581"  # the word-start marker of the Metaspace pre-tokenizer

# Grammar words of `cim.shapes.grammar.write_caption` and common words of free captions.
_GRAMMAR_WORDS = (
    "there are is a an the and also of no shapes shape objects object image picture scene with on to"
    " in top bottom middle centre center next beside over under beneath"
)
_ROLE_WORDS = ("system", "user", "assistant")
_PUNCTUATION = tuple(".,:;!?'\"-()")

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)
"""A minimal ChatML-style template: images as vision placeholders, text parts verbatim."""

IMAGE_MEAN: tuple[float, ...] = tuple(c / 255 for c in BACKGROUND)
IMAGE_STD: tuple[float, ...] = (0.25, 0.25, 0.25)
"""Pixel normalisation centred on the shapes background, so empty cells enter the vision tower as zeros.
With CLIP's mean/std the light background dominates every patch and the from-scratch vision tower
collapsed to a constant output (loss with shuffled images equal to the loss with real images)."""


@dataclass(frozen=True)
class TinyVLMConfig:
    """Sizes of the tiny preset; validated on creation."""

    hidden_size: int = 128
    text_layers: int = 3
    vision_layers: int = 3
    num_heads: int = 4
    num_kv_heads: int = 2
    mlp_ratio: int = 4
    image_size: int = 84
    patch_size: int = 14
    merge_size: int = 2
    max_positions: int = 512
    vision_hidden_size: int | None = None  # width of the vision tower; None: hidden_size

    def __post_init__(self) -> None:
        sizes = {
            name: value
            for name, value in asdict(self).items()
            if not (name == "vision_hidden_size" and value is None)
        }
        for name, value in sizes.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"TinyVLMConfig.{name} must be a positive int, got {value!r}")
        for name in [n for n in ("hidden_size", "vision_hidden_size") if n in sizes]:
            width = sizes[name]
            head_dim, rest = divmod(width, self.num_heads)
            if rest or head_dim % 8:
                raise ValueError(
                    f"{name} {width} must split into num_heads {self.num_heads} heads of a multiple of 8"
                )
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads {self.num_heads} must be a multiple of num_kv_heads {self.num_kv_heads}"
            )
        cell = self.patch_size * self.merge_size
        if self.image_size % (cell * GRID):
            raise ValueError(
                f"image_size {self.image_size} must be a multiple of {cell * GRID} "
                f"({GRID}×{GRID} grid cells of patch_size×merge_size = {cell} px)"
            )

    @property
    def vision_width(self) -> int:
        """Hidden size of the vision tower (its merger projects to hidden_size)."""
        return self.vision_hidden_size or self.hidden_size

    @property
    def mrope_section(self) -> list[int]:
        """Split of the rotary half-dimension over (time, height, width), in Qwen2.5-VL's 2:3:3 proportion."""
        half = self.hidden_size // self.num_heads // 2
        spatial = 3 * half // 8
        return [half - 2 * spatial, spatial, spatial]


def vocabulary() -> list[str]:
    """The tokenizer's words (specials first), each also in its word-start (▁) and capitalised forms."""
    words: set[str] = set(SHAPES) | {s + "s" for s in SHAPES} | {"crosses"}
    words |= set(COLOUR_NAMES) | set(SIZES) | {w for r in RELATIONS for w in r.split()}
    words |= set(_GRAMMAR_WORDS.split()) | set(_ROLE_WORDS) | {str(d) for d in range(10)}
    words |= {w.strip(".,").lower() for w in PROMPT.split()}
    forms = {form for w in words for form in (w, w.capitalize())}
    pieces = sorted(forms | {META + w for w in forms})
    return [*SPECIAL_TOKENS, *_PUNCTUATION, "\n", *pieces]


def build_tokenizer():
    """A word-level fast tokenizer over `vocabulary()` whose decoding restores the spaces."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(vocabulary())}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=META, prepend_scheme="never", split=True),
            pre_tokenizers.Split(Regex(f"[^\\w{META}]"), behavior="isolated"),
        ]
    )
    core.decoder = decoders.Metaspace(replacement=META, prepend_scheme="never", split=True)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token=UNK,
        pad_token=PAD,
        eos_token=IM_END,
        additional_special_tokens=list(SPECIAL_TOKENS[2:]),
        chat_template=CHAT_TEMPLATE,
        model_max_length=512,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    return tokenizer


def build_processor(config: TinyVLMConfig | None = None):
    """Qwen2_5_VLProcessor: the word-level tokenizer and image/video processors fixed at image_size²."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    config = config or TinyVLMConfig()
    pixels = config.image_size * config.image_size
    common = {
        "patch_size": config.patch_size,
        "merge_size": config.merge_size,
        "temporal_patch_size": 2,
        "image_mean": list(IMAGE_MEAN),
        "image_std": list(IMAGE_STD),
    }
    image_processor = Qwen2VLImageProcessor(min_pixels=pixels, max_pixels=pixels, **common)
    video_processor = Qwen2VLVideoProcessor(min_pixels=pixels, max_pixels=pixels, **common)
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=build_tokenizer(),
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )


def build_model_config(tokenizer, config: TinyVLMConfig | None = None):
    """The Qwen2_5_VLConfig of the tiny preset, with the tokenizer's special-token ids."""
    from transformers import Qwen2_5_VLConfig

    config = config or TinyVLMConfig()
    ids = tokenizer.convert_tokens_to_ids
    width, ffn = config.hidden_size, config.hidden_size * config.mlp_ratio
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": width,
        "intermediate_size": ffn,
        "num_hidden_layers": config.text_layers,
        "num_attention_heads": config.num_heads,
        "num_key_value_heads": config.num_kv_heads,
        "max_position_embeddings": config.max_positions,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": config.mrope_section,
        },
        "bos_token_id": None,
        "eos_token_id": ids(IM_END),
        "pad_token_id": ids(PAD),
    }
    vision = {
        "depth": config.vision_layers,
        "hidden_size": config.vision_width,
        "intermediate_size": config.vision_width * config.mlp_ratio,
        "num_heads": config.num_heads,
        "patch_size": config.patch_size,
        "spatial_merge_size": config.merge_size,
        "temporal_patch_size": 2,
        "window_size": config.image_size,
        "out_hidden_size": width,
        "fullatt_block_indexes": [config.vision_layers - 1],
    }
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids(IMAGE_PAD),
        video_token_id=ids(VIDEO_PAD),
        vision_start_token_id=ids(VISION_START),
        vision_end_token_id=ids(VISION_END),
        tie_word_embeddings=False,
    )


def build_tiny_vlm(out_dir: str | Path, seed: int = 0, config: TinyVLMConfig | None = None) -> Path:
    """Build the random-initialised tiny VLM, its tokenizer and processor; save them to `out_dir`.

    The folder loads with `AutoModelForImageTextToText.from_pretrained` and `AutoProcessor.from_pretrained`.
    """
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    config = config or TinyVLMConfig()
    out = Path(out_dir)
    processor = build_processor(config)
    tokenizer = processor.tokenizer
    model_config = build_model_config(tokenizer, config)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(model_config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        pad_token_id=tokenizer.convert_tokens_to_ids(PAD),
        bos_token_id=None,
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def count_parameters(model) -> int:
    """Number of parameters of a torch module."""
    return sum(p.numel() for p in model.parameters())
