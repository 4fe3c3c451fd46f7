"""Runtimes a text encoder can run on: the "@<backend>[-<precision>]" suffix of a spec.

`minilm` runs on torch; `minilm@onnx` on ONNX Runtime (fp32), `minilm@onnx-int8` on ONNX Runtime with
int8-quantised weights, `minilm@openvino` on OpenVINO (fp32). The suffix is the text after the last "@";
a local folder whose path holds an "@" is written with an explicit `@torch` (`sbert:/data/a@b@torch`).
Importing this module does not import torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from cim.errors import MissingDependencyError, OptionError, UnknownNameError

TORCH = "torch"
FP32 = "fp32"
PRECISIONS: dict[str, tuple[str, ...]] = {TORCH: (FP32,), "onnx": (FP32, "int8"), "openvino": (FP32,)}
"""Backend → the precisions it offers (the first is the default)."""
REQUIREMENTS: dict[str, tuple[tuple[str, ...], str]] = {
    "onnx": (("onnx", "onnxruntime"), "onnx"),
    "openvino": (("onnx", "onnxruntime", "openvino"), "openvino"),
}
"""Backend → (modules it imports, the pip extra that installs them); torch needs nothing more. Every export
is made with onnx and checked with ONNX Runtime, whichever runtime then runs it."""
EXPORTABLE = ("minilm", "sbert")
"""Text encoder names whose models run on every backend (sentence-transformers models)."""


@dataclass(frozen=True)
class Backend:
    """A runtime and the precision of the weights it runs."""

    name: str = TORCH
    precision: str = FP32

    def __str__(self) -> str:
        return self.name if self.precision == FP32 else f"{self.name}-{self.precision}"


def parse_backend(text: str) -> Backend:
    """ "onnx-int8" → Backend("onnx", "int8"); "openvino" → Backend("openvino", "fp32")."""
    name, _, precision = text.partition("-")
    if name not in PRECISIONS:
        raise UnknownNameError(
            "text encoder backend",
            text,
            [str(Backend(n, p)) for n in PRECISIONS for p in PRECISIONS[n]],
            sort=False,
        )
    precision = precision or FP32
    if precision not in PRECISIONS[name]:
        raise UnknownNameError(f"precision of backend {name!r}", precision, PRECISIONS[name], sort=False)
    return Backend(name, precision)


def split_backend(spec: str) -> tuple[str, Backend]:
    """ "minilm@onnx-int8" → ("minilm", Backend("onnx", "int8")); "minilm" → ("minilm", Backend())."""
    model_spec, sep, suffix = spec.rpartition("@")
    if not sep:
        return spec, Backend()
    if not model_spec:
        raise OptionError(f"text encoder spec {spec!r} names no model before '@'")
    return model_spec, parse_backend(suffix)


def with_backend(spec: str, backend: Backend) -> str:
    """The spec that loads `spec` on `backend` (always with a suffix, so an "@" in a path stays the path's)."""
    return f"{spec}@{backend}"


def check_exportable(model_spec: str, backend: Backend) -> None:
    """Refuse a backend other than torch for encoders that are not sentence-transformers models."""
    name = model_spec.partition(":")[0]
    if backend.name != TORCH and name not in EXPORTABLE:
        raise OptionError(
            f"text encoder {model_spec!r} runs on torch only; backend {str(backend)!r} is offered for "
            f"{', '.join(EXPORTABLE)} encoders"
        )


def require_backend(backend: Backend) -> None:
    """Raise MissingDependencyError, naming the pip extra, when a package the backend needs is missing."""
    modules, extra = REQUIREMENTS.get(backend.name, ((), ""))
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise MissingDependencyError(
                f"the {backend.name} text encoder backend needs {', '.join(modules)} ({module} is missing): "
                f"pip install 'cim[{extra}]'"
            ) from error
