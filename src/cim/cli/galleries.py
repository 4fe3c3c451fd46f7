"""`cim gallery …` and `cim encoder …`: build, import, inspect and re-embed galleries; adapt their text encoder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer
from rich.table import Table

from cim.cli.common import (
    DEVICE_HELP,
    GALLERY_HELP,
    CimTyper,
    _quiet_libraries,
    console,
    fail,
    open_gallery,
    out_console,
    progress_reporter,
)

gallery_app = CimTyper(help="Build, import and inspect galleries.", no_args_is_help=True)
encoder_app = CimTyper(help="Adapt a gallery's text encoder to the gallery (hard-negative fine-tuning).", no_args_is_help=True)


@gallery_app.command("build")
def gallery_build(
    out: Path = typer.Option(..., "--out", help="Gallery folder to create (or resume)."),
    items: Path | None = typer.Option(None, "--items", help='JSONL of {"id", "caption", "image"} lines.'),
    shapes: int | None = typer.Option(None, "--shapes", help="Build from the first N scenes of the shapes world's gallery split."),
    text_encoder: str = typer.Option("minilm", help="Text encoder spec: minilm, sbert:<id|path>, hf-clip:<id|path>, openclip:<arch>/<pretrained>; minilm and sbert take @onnx, @onnx-int8 or @openvino (CPU)."),
    image_encoder: str = typer.Option("efficientnet-lite0", help="Image encoder spec: efficientnet-lite0, hf-clip:…, openclip:…, dinov2:…"),
    pooling: str = typer.Option("global", help="Image pooling: global, grid2 or grid3."),
    image_size: int | None = typer.Option(None, help="Encoder input size in pixels (default: the encoder's; 128 for --shapes)."),
    chunk_size: int = typer.Option(256, help="Rows embedded and saved together (the unit of resume)."),
    workers: int = typer.Option(1, help="Data-loader processes decoding or rendering images."),
    device: str | None = typer.Option(None, help="cpu, cuda, cuda:1 … (default: cuda if available)."),
    skip_bad_items: bool = typer.Option(False, help="Leave out items whose image is unreadable, refused or too large; the manifest lists them."),
    max_image_pixels: int | None = typer.Option(None, help="Pixel limit per image for this build (trusted files only; default: Pillow's, ~89 M)."),
) -> None:
    """Embed items into a gallery folder. Resumes after a kill; shards under `accelerate launch`."""
    from cim.gallery.build import BuildConfig, build_gallery
    from cim.gallery.items import read_items, shapes_items

    if (items is None) == (shapes is None):
        fail("give exactly one of --items FILE or --shapes N")
    _quiet_libraries()
    if shapes is not None:
        item_list, source = shapes_items(shapes), {"kind": "shapes", "split": "gallery", "count": shapes}
        image_size = image_size or 128
    else:
        item_list, source = read_items(items), {"kind": "items", "file": str(items)}
    config = BuildConfig(text_encoder, image_encoder, pooling, image_size, chunk_size, device=device, num_workers=workers,
                         skip_bad_items=skip_bad_items, max_image_pixels=max_image_pixels)
    with progress_reporter() as report:
        manifest = build_gallery(item_list, out, config, source, lambda done, total: report("embedding", done, total))
    if manifest is not None:
        out_console.print(f"gallery: {out} ({manifest.count} items, content hash {manifest.content_hash[:12]})")


@gallery_app.command("import")
def gallery_import(
    text_emb: Path = typer.Option(..., help="Release .pt file of caption embeddings (rows × dim)."),
    image_emb: Path = typer.Option(..., help="Release .pt file of image embeddings (rows × dim)."),
    captions: Path = typer.Option(..., help="Caption list: .json list, .jsonl or .txt (one per line), row-aligned."),
    out: Path = typer.Option(..., "--out", help="Gallery folder to write."),
    text_encoder: str = typer.Option("sbert:sentence-transformers/all-mpnet-base-v2", help="Spec of the encoder that made the text embeddings."),
    text_max_tokens: int = typer.Option(384, help="That text encoder's token limit (all-mpnet-base-v2: 384)."),
    image_encoder: str = typer.Option("openclip:ViT-H-14/laion2b_s32b_b79k", help="Spec of the encoder that made the image embeddings."),
) -> None:
    """Turn the research release's embedding files into a gallery (ids are row numbers)."""
    from cim.gallery.importer import import_release

    manifest = import_release(text_emb, image_emb, captions, out, text_encoder, image_encoder, text_max_tokens=text_max_tokens)
    out_console.print(f"gallery: {out} ({manifest.count} items, content hash {manifest.content_hash[:12]})")


@gallery_app.command("info")
def gallery_info(path: Path = typer.Argument(..., help="Gallery folder."), verify: bool = typer.Option(False, help="Re-check file checksums.")) -> None:
    """Print a gallery's manifest."""
    from cim.gallery.store import Gallery

    out_console.print_json(Gallery.load(path, verify=verify).manifest.model_dump_json())


@gallery_app.command("reembed")
def gallery_reembed(
    path: Path = typer.Argument(..., help="Gallery folder to copy."),
    text_encoder: str = typer.Option(..., help="Text encoder spec for the captions, e.g. sbert:runs/encoder (a `cim encoder finetune` output)."),
    out: Path = typer.Option(..., "--out", help="Folder of the re-embedded copy (not the gallery)."),
    device: str | None = typer.Option(None, help=DEVICE_HELP),
) -> None:
    """Copy a gallery with its captions embedded by another text encoder (ids, images and image embeddings kept)."""
    from cim.gallery.reembed import reembed_gallery

    _quiet_libraries()
    with progress_reporter() as report:
        manifest = reembed_gallery(path, out, text_encoder, device=device, progress=lambda done, total: report("embedding captions", done, total))
    out_console.print(f"gallery: {out} ({manifest.count} items, text encoder {manifest.text_encoder.spec}, content hash {manifest.content_hash[:12]})")


def validation_table(result: dict) -> Table:
    """Held-out metrics of `cim encoder finetune`, before and after."""

    def cells(value: Callable[[dict], float | None]) -> list[str]:
        return ["—" if value(result[when]) is None else f"{value(result[when]):.3f}" for when in ("before", "after")]

    table = Table("held-out metric", "before", "after")
    table.add_row("triplet accuracy, all kinds", *cells(lambda m: m["triplet_accuracy"]))
    for kind, scores in result["before"]["by_kind"].items():
        table.add_row(f"  {kind} triplets (n={scores['n']})", *cells(lambda m, k=kind: m["by_kind"][k]["accuracy"]))
    for label, key in (("twin cosine, gallery phrasing", "twin_cosine"), ("twin cosine, held-out phrasing", "heldout_twin_cosine"),
                       ("paraphrase recall@1", "paraphrase_recall_at_1")):  # fmt: skip
        table.add_row(label, *cells(lambda m, k=key: m[k]))
    return table


@encoder_app.command("finetune")
def encoder_finetune(
    out: Path = typer.Option(..., "--out", help="Model folder to write (a sentence-transformers model, usable as sbert:OUT); a rerun resumes."),
    gallery: str | None = typer.Option(None, help=GALLERY_HELP),
    base: str | None = typer.Option(None, help="Encoder to start from: minilm or sbert:<folder> (default: the gallery's text encoder)."),
    max_steps: int | None = typer.Option(None, help="Optimiser steps (default: --epochs passes over the triplets)."),
    epochs: float = typer.Option(1.0, help="Passes over the training triplets when --max-steps is not given."),
    batch_size: int = typer.Option(32, help="Triplets per step; the other captions of a batch are negatives too."),
    lr: float = typer.Option(2e-5, help="Peak learning rate (linear warm-up over 10% of the steps, then linear decay)."),
    max_seq_length: int | None = typer.Option(None, help="Token limit while training (default: the base's); the saved model keeps the base's."),
    triplets_per_caption: int = typer.Option(1, help="Triplets drawn per training caption."),
    val_fraction: float = typer.Option(0.1, help="Share of distinct captions held out for validation (at most 500)."),
    save_steps: int = typer.Option(100, help="Checkpoint every N steps in OUT/checkpoints (the unit of resume)."),
    seed: int = typer.Option(0, help="Seed of the split, the triplets and the trainer."),
    min_captions: int = typer.Option(200, help="Refuse galleries with fewer distinct captions than this."),
    reembed: Path | None = typer.Option(None, help="Also write a copy of the gallery re-embedded with the fine-tuned encoder here."),
    device: str | None = typer.Option(None, help="cpu or cuda (default: cuda if available)."),
    threads: int | None = typer.Option(None, help="Torch threads (default: one per core; on busy shared cores 1 can be much faster)."),
) -> None:
    """Fine-tune the gallery's text encoder on its own captions with automatic hard negatives.

    Triplets: a caption, a paraphrase (converse relations, shuffled sentences) and a hard negative (relation
    arguments swapped, attributes or objects traded, words shuffled), trained with sentence-transformers'
    MultipleNegativesRankingLoss. Validation uses held-out captions rewritten in relation phrasings that training
    never sees; the before/after figures go to OUT/validation.json and, as JSON, to the last line of output.
    """
    from cim.adapt.finetune import FinetuneConfig, check_out, finetune_encoder
    from cim.errors import InputError, check_positive

    config = FinetuneConfig(base=base, max_steps=max_steps, epochs=epochs, batch_size=batch_size, learning_rate=lr,
                            max_seq_length=max_seq_length, triplets_per_caption=triplets_per_caption,
                            val_fraction=val_fraction, save_steps=save_steps, seed=seed, min_captions=min_captions,
                            device=device)  # fmt: skip
    if threads is not None:
        check_positive("threads", threads)
    check_out(out)
    if reembed is not None and (reembed / "manifest.json").is_file():
        raise InputError("--reembed: a finished gallery is already here; choose another folder or delete it", source=str(reembed))
    _quiet_libraries()
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    folder = open_gallery(gallery)
    result = finetune_encoder(folder, out, config, report=lambda what: console.print(f"[bold]▶ {what}[/bold]"))
    out_console.print(validation_table(result))
    out_console.print(f"model: {out} (use as --text-encoder {result['model']})")
    if reembed is not None:
        from cim.gallery.reembed import reembed_gallery

        with progress_reporter() as report:
            manifest = reembed_gallery(folder, reembed, result["model"], device=device,
                                       progress=lambda done, total: report("re-embedding captions", done, total))  # fmt: skip
        out_console.print(f"re-embedded gallery: {reembed} ({manifest.count} items)")
    out_console.print(json.dumps(result["headline"]), soft_wrap=True, highlight=False, markup=False)

