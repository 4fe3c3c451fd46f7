"""Text encoder backends: the "@backend" spec suffix, the ONNX export cache, agreement with torch, the manifest's
backend fields and the mismatch rule, missing packages, and the encoder_backends benchmark at a tiny size."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import torch

from cim.encoders import load_text_encoder, onnx_export
from cim.encoders.backends import Backend, parse_backend, split_backend, with_backend
from cim.encoders.exported import META, ExportedTextEncoder
from cim.errors import EncoderMismatchError, MissingDependencyError, OptionError, UnknownNameError
from cim.gallery.manifest import GalleryManifest, TextEncoderInfo, check_encoder
from cim.reward.options import ScorerOptions
from cim.reward.scorer import CIMScorer

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
CAPTIONS = [
    "A red circle.",
    "A small blue square is to the left of a large green triangle, and the triangle is above a yellow star.",
    "Three shapes on a grey background. " * 40,  # over MiniLM's 256 word pieces: truncated
    "two shapes",
]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """$CIM_HOME for this module: exports made once and shared by its tests."""
    folder = tmp_path_factory.mktemp("cim_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CIM_HOME", str(folder))
        yield folder


@pytest.fixture(scope="module")
def torch_minilm():
    return load_text_encoder("minilm", device="cpu")


@pytest.fixture(scope="module")
def onnx_minilm(home):
    return load_text_encoder("minilm@onnx")


def cosines(a, b) -> torch.Tensor:
    return torch.nn.functional.cosine_similarity(a.vectors, b.vectors, dim=-1)


def test_spec_suffix_names_backend_and_precision():
    assert split_backend("minilm") == ("minilm", Backend("torch", "fp32"))
    assert split_backend("minilm@onnx-int8") == ("minilm", Backend("onnx", "int8"))
    assert split_backend("minilm@onnx-fp32") == split_backend("minilm@onnx") == ("minilm", Backend("onnx"))
    assert split_backend("sbert:/models/a@b/model@torch") == ("sbert:/models/a@b/model", Backend())
    assert str(Backend("onnx", "int8")) == "onnx-int8" and str(Backend("openvino")) == "openvino"
    assert split_backend(with_backend("sbert:/x@y", Backend())) == ("sbert:/x@y", Backend())
    with pytest.raises(UnknownNameError, match="valid: torch, onnx, onnx-int8, openvino"):
        parse_backend("onx")
    with pytest.raises(UnknownNameError, match="precision of backend 'openvino'"):
        parse_backend("openvino-int8")
    with pytest.raises(OptionError, match="names no model"):
        split_backend("@onnx")
    assert ScorerOptions.parse({"text_backend": "onnx-fp32"}).text_backend == "onnx"
    with pytest.raises(OptionError, match="text_backend"):
        ScorerOptions.parse({"text_backend": "tensorrt"})
    with pytest.raises(OptionError, match="runs on torch only"):
        load_text_encoder("hf-clip:org/model@onnx")


@pytest.mark.parametrize(
    ("backend", "missing", "extra"),
    [("onnx", "onnxruntime", "cim[onnx]"), ("openvino", "openvino", "cim[openvino]")],
)
def test_missing_backend_package_names_the_extra_before_any_work(
    backend, missing, extra, tmp_path, monkeypatch
):
    monkeypatch.setenv("CIM_HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, missing, None)  # `import missing` now fails as if it were not installed
    with pytest.raises(
        MissingDependencyError, match=rf"{missing} is missing.*pip install '{re.escape(extra)}'"
    ):
        load_text_encoder(f"minilm@{backend}")
    assert not list(tmp_path.iterdir())  # nothing exported


def test_onnx_fp32_matches_torch_and_the_export_is_reused(home, torch_minilm, onnx_minilm, monkeypatch):
    reference, fast = torch_minilm.encode(CAPTIONS), onnx_minilm.encode(CAPTIONS, batch_size=3)
    assert cosines(fast, reference).min() >= 0.999
    assert fast.n_tokens.tolist() == reference.n_tokens.tolist() and fast.truncated.tolist() == [
        False,
        False,
        True,
        False,
    ]
    folder = onnx_minilm.folder
    assert folder.parent == home / "encoders" and folder.name.startswith("minilm-onnx-fp32-")
    assert json.loads((folder / META).read_text())["check"]["least_cosine"] >= 0.999

    def no_export(*args):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_export, "_export_fp32", no_export)
    again = load_text_encoder("minilm@onnx")
    assert again.folder == folder
    assert torch.equal(again.encode(CAPTIONS).vectors, onnx_minilm.encode(CAPTIONS).vectors)


def test_int8_and_openvino_stay_close_to_torch(home, torch_minilm, onnx_minilm):
    reference = torch_minilm.encode(CAPTIONS)
    int8 = load_text_encoder("minilm@onnx-int8")
    assert cosines(int8.encode(CAPTIONS), reference).min() >= 0.98
    assert int8.describe()["precision"] == "int8" and "quantization" in int8.describe()
    assert int8.folder.name.startswith("minilm-onnx-int8-")
    openvino = load_text_encoder("minilm@openvino")
    assert openvino.folder == onnx_minilm.folder  # OpenVINO runs the fp32 ONNX export
    assert cosines(openvino.encode(CAPTIONS), reference).min() >= 0.999
    assert openvino.describe()["backend"] == "openvino"


def test_a_killed_export_is_never_reused(home, onnx_minilm, tmp_path, monkeypatch):
    monkeypatch.setenv("CIM_HOME", str(tmp_path))
    name = onnx_minilm.folder.name
    stale = tmp_path / "encoders" / f".{name}.killed.tmp"  # what a killed export leaves
    stale.mkdir(parents=True)
    (stale / "model.onnx").write_bytes(b"half a model")

    def interrupted(spec, model, out):
        (out / "model.onnx").write_bytes(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_export, "_export_fp32", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_text_encoder("minilm@onnx")
    assert sorted(p.name for p in (tmp_path / "encoders").iterdir()) == [
        stale.name
    ]  # its temp folder is gone

    monkeypatch.setattr(
        onnx_export,
        "_export_fp32",
        lambda spec, model, out: shutil.copytree(onnx_minilm.folder, out, dirs_exist_ok=True),
    )
    encoder = load_text_encoder("minilm@onnx")
    assert encoder.folder == tmp_path / "encoders" / name and (encoder.folder / META).is_file()
    assert encoder.encode(["a red circle"]).vectors.shape == (1, 384)


def test_the_manifest_records_the_backend_and_scoring_refuses_another(
    home, items_file, built_gallery, onnx_minilm, tmp_path, monkeypatch
):
    from cim.gallery.build import BuildConfig, build_gallery
    from cim.gallery.items import read_items

    out = tmp_path / "onnx-gallery"
    build_gallery(
        read_items(items_file),
        out,
        BuildConfig(text_encoder="minilm@onnx", image_size=64, chunk_size=8, num_workers=0),
    )
    info = GalleryManifest.read(out).text_encoder
    assert (info.spec, info.backend, info.precision, info.export) == (
        "minilm",
        "onnx",
        "fp32",
        onnx_minilm.folder.name,
    )
    assert isinstance(
        CIMScorer(out, device="cpu").text_encoder, ExportedTextEncoder
    )  # the gallery's backend by default
    torch_info = GalleryManifest.read(built_gallery).text_encoder
    assert (torch_info.backend, torch_info.precision) == ("torch", "fp32")
    assert (
        TextEncoderInfo.model_validate({"spec": "minilm", "dim": 384, "max_tokens": 256}).identity()
        == torch_info.identity()
    )  # old manifests

    import cim.reward.scorer as scorer_module

    def no_load(*args, **kwargs):
        raise AssertionError("loaded an encoder before refusing")

    with monkeypatch.context() as patch:
        patch.setattr(scorer_module, "load_text_encoder", no_load)
        with pytest.raises(
            EncoderMismatchError, match=r"backend: gallery 'torch' vs given 'onnx'.*allow_backend_mismatch"
        ):
            CIMScorer(built_gallery, ScorerOptions(text_backend="onnx"), device="cpu")
    with pytest.raises(EncoderMismatchError, match="precision: gallery 'fp32' vs given 'int8'"):
        CIMScorer(out, ScorerOptions(text_backend="onnx-int8"), device="cpu")
    with pytest.raises(EncoderMismatchError, match="backend"):
        CIMScorer(built_gallery, text_encoder=onnx_minilm, device="cpu")
    with pytest.raises(OptionError, match="runs on 'onnx' but option 'text_backend' is 'openvino'"):
        CIMScorer(
            built_gallery,
            ScorerOptions(text_backend="openvino", allow_backend_mismatch=True),
            text_encoder=onnx_minilm,
        )

    allowed = CIMScorer(
        built_gallery, ScorerOptions(text_backend="onnx", allow_backend_mismatch=True), device="cpu"
    )
    assert isinstance(allowed.text_encoder, ExportedTextEncoder)
    captions, sources = (
        ["a red circle on a grey background", "a blue square"],
        ["green-circle-0", "red-square-1"],
    )
    fast, exact = (
        allowed.score(captions, sources),
        CIMScorer(built_gallery, device="cpu").score(captions, sources),
    )
    assert max(abs(a.reward - b.reward) for a, b in zip(fast, exact)) < 1e-3
    with pytest.raises(
        EncoderMismatchError, match="dim"
    ):  # another model is refused even when backends may differ
        check_encoder("text", torch_info, {**onnx_minilm.describe(), "dim": 768}, allow_backend_mismatch=True)


def test_benchmark_at_a_tiny_size(home, built_gallery, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("encoder_backends", BENCHMARKS / "encoder_backends.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec.loader.exec_module(module)
        out = tmp_path / "encoder_backends.json"
        module.main(["--captions", "6", "--gallery", str(built_gallery), "--repeats", "1", "--out", str(out)])
    finally:
        sys.path.remove(str(BENCHMARKS))
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == json.loads(out.read_text())
    assert (printed["captions"], printed["gallery_rows"], printed["gallery"]) == (6, 24, str(built_gallery))
    assert set(printed["cpu"]) == {"model", "avx2", "avx512", "vnni"}
    assert printed["mean_tokens"]["complete"] > 10 and 55 <= printed["mean_tokens"]["grpo"] <= 62
    table = printed["encoders"]
    assert set(table) == {"torch", "onnx", "onnx-int8", "openvino"}
    assert table["torch"]["complete_speedup"] == table["torch"]["grpo_speedup"] == 1.0
    for name in ("onnx", "onnx-int8", "openvino"):
        row = table[name]
        assert (
            row["complete_captions_per_s"] > 0 and row["grpo_captions_per_s"] > 0 and row["load_seconds"] >= 0
        )
        assert (
            0 <= row["top3_identical"] <= 1 and 0 <= row["reward_abs_diff_mean"] <= row["reward_abs_diff_max"]
        )
        exact = name != "onnx-int8"
        assert row["min_cosine"] >= (0.999 if exact else 0.98)
        if exact:
            assert row["reward_abs_diff_max"] < 1e-3
    rest = printed["search_gather_score"]
    assert rest["fastest_encoder"] in table and rest["ms_per_caption"] > 0
    fastest_ms = 1000 / table[rest["fastest_encoder"]]["grpo_captions_per_s"]
    assert abs(rest["share_of_fastest_encoder"] - rest["ms_per_caption"] / fastest_ms) < 0.01
