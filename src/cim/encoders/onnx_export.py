"""Export a sentence-transformers model to ONNX once, cached under $CIM_HOME/encoders/, and check the export.

fp32: the whole pipeline (transformer, pooling, dense and normalise modules) traced by `torch.onnx.export`
into one graph with dynamic batch and token axes. int8: ONNX Runtime's dynamic quantisation of that graph.
(sentence-transformers' own ONNX and OpenVINO backends go through optimum, whose releases pin
transformers below 5, so cim exports with torch and ONNX Runtime directly.)

Each export is written to a temporary folder and renamed into place when complete, so a killed export is
never reused. An export is refused unless it reproduces its source on probe sentences (`MIN_COSINE`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from cim import __version__
from cim.encoders.backends import FP32, Backend
from cim.encoders.exported import META, ExportedTextEncoder, read_meta
from cim.errors import OptionError
from cim.paths import cache_dir

EXPORTS = "encoders"
OPSET = 17
QUANTIZATION = "dynamic int8 (ONNX Runtime): MatMul weights per channel, reduced range; activations per batch"
MIN_COSINE = {FP32: 0.999, "int8": 0.95}
"""Least cosine per probe sentence: fp32 against the torch model, int8 against the fp32 export."""
TRACE = ("A red circle.", "A small blue square is to the left of a large green triangle.")
PROBES = (
    "Two shapes.",
    "A large yellow star is above a small purple cross, and the cross is next to a red circle on the right.",
    "Four objects on a grey background: a blue square in the top left corner, a green triangle below it, "
    "an orange hexagon in the centre and a small white diamond to the right of the hexagon, under a red heart.",
)


def export_folder(spec: str, model: str, precision: str) -> Path:
    """The cached ONNX export of `spec` (its sentence-transformers model: a folder or a hub id) at `precision`,
    exported first if missing: $CIM_HOME/encoders/<spec>-onnx-<precision>-<fingerprint of the model>."""
    folder = cache_dir() / EXPORTS / f"{_slug(spec)}-onnx-{precision}-{_fingerprint(model)}"
    if not (folder / META).is_file():
        export = _export_fp32 if precision == FP32 else _quantise_int8
        _write_folder(folder, lambda out: export(spec, model, out))
    return folder


def _slug(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec).strip("_")[:64]


def _fingerprint(model: str) -> str:
    """12 hex digits over the model's identity: for a folder its path and every file's size and mtime."""
    path = Path(model).expanduser()
    digest = hashlib.sha256()
    if path.is_dir():
        digest.update(str(path.resolve()).encode())
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = file.stat()
            digest.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    else:
        digest.update(model.encode())
    return digest.hexdigest()[:12]


def _write_folder(folder: Path, write: Callable[[Path], None]) -> None:
    """Call write(temporary folder) beside `folder`, then rename it into place (another process may win)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        write(temp)
        try:
            temp.rename(folder)
        except OSError:
            if not (folder / META).is_file():
                raise
            shutil.rmtree(temp)  # the same export finished first in another process
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _write_meta(out: Path, meta: dict[str, Any]) -> None:
    stamp = {"cim_version": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    (out / META).write_text(json.dumps({**meta, **stamp}, indent=2) + "\n", encoding="utf-8")


@contextmanager
def _root_logger_handled() -> Iterator[None]:
    """ONNX Runtime's quantiser advises through `logging.warning`, which gives a root logger without handlers a
    stderr handler for good; a null handler meanwhile keeps the advice and that side effect away."""
    root, handler = logging.getLogger(), logging.NullHandler()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


class _Pipeline(torch.nn.Module):
    """A SentenceTransformer as a module of positional tensors (what the ONNX tracer takes)."""

    def __init__(self, model: torch.nn.Module, names: Sequence[str]) -> None:
        super().__init__()
        self.model = model
        self.names = list(names)

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.model(dict(zip(self.names, tensors)))["sentence_embedding"]


def _least_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return round(float(torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=-1).min()), 6)


def _check(spec: str, precision: str, cosine: float, against: str) -> dict[str, Any]:
    if cosine < MIN_COSINE[precision]:
        raise OptionError(
            f"the {precision} ONNX export of {spec!r} does not reproduce {against} (least cosine {cosine:.4f} "
            f"< {MIN_COSINE[precision]} on probe sentences); use the torch backend for this model"
        )
    return {"against": against, "least_cosine": cosine, "probes": len(PROBES)}


def _export_fp32(spec: str, model_name: str, out: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_name, device="cpu").eval()
    if model.default_prompt_name:
        raise OptionError(f"text encoder {spec!r} has a default prompt; it runs on the torch backend only")
    max_tokens = int(model.max_seq_length)
    features = model.tokenizer(
        list(TRACE), padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"
    )
    names = list(features.keys())
    dynamic = {**{name: {0: "batch", 1: "tokens"} for name in names}, "embedding": {0: "batch"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation warnings of the TorchScript exporter
        torch.onnx.export(
            _Pipeline(model, names), tuple(features[name] for name in names), str(out / "model.onnx"),
            input_names=names, output_names=["embedding"], dynamic_axes=dynamic, opset_version=OPSET, dynamo=False,
        )  # fmt: skip
    model.tokenizer.save_pretrained(out)
    meta = {"spec": spec, "model": model_name, "precision": FP32, "file": "model.onnx", "dim": int(model.get_embedding_dimension()),
            "max_tokens": max_tokens, "inputs": names, "opset": OPSET}  # fmt: skip
    _write_meta(out, meta)
    reference = model.encode(
        list(PROBES), convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False
    )
    exported = ExportedTextEncoder(out, Backend("onnx")).encode(PROBES).vectors
    _write_meta(
        out,
        {**meta, "check": _check(spec, FP32, _least_cosine(exported, reference.cpu()), "the torch model")},
    )


def _quantise_int8(spec: str, model_name: str, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source = export_folder(spec, model_name, FP32)
    meta = read_meta(source)
    for file in source.iterdir():  # the tokenizer
        if file.name not in (meta["file"], META):
            shutil.copy2(file, out / file.name)
    with _root_logger_handled():
        quantize_dynamic(
            source / meta["file"], out / "model_int8.onnx", weight_type=QuantType.QInt8, per_channel=True,
            reduce_range=True, op_types_to_quantize=["MatMul"],
        )  # fmt: skip
    meta = {
        **meta,
        "precision": "int8",
        "file": "model_int8.onnx",
        "quantization": QUANTIZATION,
        "from": source.name,
    }
    _write_meta(out, meta)
    quantised = ExportedTextEncoder(out, Backend("onnx", "int8")).encode(PROBES).vectors
    reference = ExportedTextEncoder(source, Backend("onnx")).encode(PROBES).vectors
    _write_meta(
        out, {**meta, "check": _check(spec, "int8", _least_cosine(quantised, reference), "the fp32 export")}
    )
