"""Runtimes of an exported ONNX text model: ONNX Runtime and OpenVINO, both on the CPU, in fp32 arithmetic."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

Runner = Callable[[dict[str, np.ndarray]], np.ndarray]
"""Model inputs by name (int64 arrays) → the first output."""


def onnxruntime_runner(path: Path, threads: int) -> Runner:
    """An ONNX Runtime session on the CPU with `threads` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda inputs: session.run(None, inputs)[0]


def openvino_runner(path: Path, threads: int) -> Runner:
    """The ONNX model compiled by OpenVINO for the CPU, in f32 (OpenVINO would pick bf16 where the CPU has it)."""
    import openvino as ov

    config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads}
    compiled = ov.Core().compile_model(str(path), "CPU", config)
    return lambda inputs: np.asarray(compiled(inputs)[0])


RUNNERS: dict[str, Callable[[Path, int], Runner]] = {"onnx": onnxruntime_runner, "openvino": openvino_runner}
