"""The `cim` command: parse arguments, call the library, print results. Heavy imports stay inside commands."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from cim.errors import CIMError
from cim.reward.options import ScorerOptions
from cim.wire import TOKEN_ENV


def fail(message: str) -> None:
    from rich.markup import escape

    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(2)


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """The one place where errors become messages: a CIMError (bad input, a bad option, a missing optional
    package) exits 2 with its message; anything else is a bug and keeps its traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CIMError as error:
            fail(str(error))

    return run


class CimTyper(typer.Typer):
    """A Typer whose commands all report user errors the same way (see `user_errors`)."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        register = super().command(*args, **kwargs)
        return lambda command: register(user_errors(command))


def reward_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command one flag per ScorerOptions field (declared once, in cim.reward.options) and pass them
    to it as one validated `reward: ScorerOptions` argument."""
    own = [p for p in inspect.signature(command).parameters.values() if p.name != "reward"]
    flags = []
    for name, field in ScorerOptions.model_fields.items():
        flag = "--" + name.replace("_", "-")
        declared = typer.Option(field.default, f"{flag}/--no-{flag[2:]}" if field.annotation is bool else flag, help=field.description)
        annotation = field.annotation if field.annotation in (int, float, bool) else str
        flags.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=declared, annotation=annotation))

    @functools.wraps(command)
    def run(**kwargs: Any) -> Any:
        reward = ScorerOptions.parse({name: kwargs.pop(name) for name in ScorerOptions.model_fields})
        return command(**kwargs, reward=reward)

    run.__signature__ = inspect.signature(command).replace(parameters=[*own, *flags])  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in [*own, *flags]}
    return run


app = CimTyper(help="Cross-modal Identity Mapping: retrieval-based caption rewards.", no_args_is_help=True)
gallery_app = CimTyper(help="Build, import and inspect galleries.", no_args_is_help=True)
shapes_app = CimTyper(help="The embedded shapes world.", no_args_is_help=True)
train_app = CimTyper(help="Train captioners with the CIM reward (GRPO through TRL).", no_args_is_help=True)
encoder_app = CimTyper(help="Adapt a gallery's text encoder to the gallery (hard-negative fine-tuning).", no_args_is_help=True)
app.add_typer(gallery_app, name="gallery")
app.add_typer(encoder_app, name="encoder")
app.add_typer(shapes_app, name="shapes")
app.add_typer(train_app, name="train")
console = Console(stderr=True)
out_console = Console()


def progress_columns() -> list:
    return [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]


@contextmanager
def progress_bar(description: str) -> Iterator[Progress]:
    with Progress(*progress_columns(), console=console) as bar:
        bar.add_task(description, total=None)
        yield bar


def _quiet_libraries() -> None:
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()


DEVICE_HELP = "cpu, cuda … (default: cuda if available)."
GALLERY_HELP = "Gallery folder, or a cached shapes gallery name such as shapes-5000 (built on first use); default shapes-20000."


@contextmanager
def build_progress() -> Iterator[Callable[[str, int, int], None]]:
    """A (stage, done, total) callback for gallery builds; its bar appears only once a build reports."""
    bar = Progress(*progress_columns(), console=console)
    task = bar.add_task("gallery", total=None, visible=False)

    def report(what: str, done: int, total: int) -> None:
        bar.start()
        bar.update(task, description=what, completed=done, total=total, visible=True)

    try:
        yield report
    finally:
        if bar.live.is_started:
            bar.stop()


def open_gallery(name_or_path: str | None) -> Path:
    """The folder a --gallery value stands for, building a named shapes gallery (with a progress bar) if needed."""
    from cim.gallery.named import resolve_gallery

    with build_progress() as report:
        return resolve_gallery(name_or_path, report)


@gallery_app.command("build")
def gallery_build(
    out: Path = typer.Option(..., "--out", help="Gallery folder to create (or resume)."),
    items: Path | None = typer.Option(None, "--items", help='JSONL of {"id", "caption", "image"} lines.'),
    shapes: int | None = typer.Option(None, "--shapes", help="Build from the first N scenes of the shapes world's gallery split."),
    text_encoder: str = typer.Option("minilm", help="Text encoder spec: minilm, sbert:<id|path>, hf-clip:<id|path>, openclip:<arch>/<pretrained>."),
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
    with build_progress() as report:
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
    with build_progress() as report:
        manifest = reembed_gallery(path, out, text_encoder, device=device, progress=lambda done, total: report("embedding captions", done, total))
    out_console.print(f"gallery: {out} ({manifest.count} items, text encoder {manifest.text_encoder.spec}, content hash {manifest.content_hash[:12]})")


def summary_table(summaries: dict[str, dict]) -> Table:
    table = Table("captions", "rows", "errors", "reward ± se", "QIR ± se", "GRC ± se", "tokens", "cut")
    for name, s in summaries.items():
        table.add_row(
            name, str(s["rows"]), str(s["errors"]),
            *(f"{s[f'{m}_mean']:.3f}±{s[f'{m}_se']:.3f}" for m in ("reward", "qir", "grc")),
            f"{s['tokens_mean']:.1f}", str(s["truncated"]),
        )
    return table


def make_scorer(gallery: str | None, reward: ScorerOptions, device: str | None) -> Any:
    """The CIMScorer of a command's --gallery and reward flags."""
    from cim.reward.scorer import CIMScorer

    _quiet_libraries()
    return CIMScorer(open_gallery(gallery), reward, device=device)


@app.command("score")
@reward_options
def score(
    captions: Path = typer.Option(..., help='JSONL of {"id", "caption", "image" or "source_id"} lines.'),
    out: Path = typer.Option(..., "--out", help="Output JSONL, one record per input line (not the captions file)."),
    gallery: str | None = typer.Option(None, help=GALLERY_HELP),
    batch_size: int = typer.Option(256, help="Captions per scorer call (rows written together)."),
    resume: bool = typer.Option(False, help="Keep OUT's records and score only the lines not in it."),
    device: str | None = typer.Option(None, help=DEVICE_HELP),
    reward: ScorerOptions = ScorerOptions(),
) -> None:
    """Score captions with the CIM reward; bad rows get error records, the rest are still scored."""
    from cim.reward.score_file import check_output_path, score_file

    check_output_path(captions, out)
    scorer = make_scorer(gallery, reward, device)
    with progress_bar("scoring") as bar:
        task = bar.task_ids[0]
        if captions.is_file():
            bar.update(task, total=sum(1 for line in captions.open("rb") if line.strip()))
        summary = score_file(scorer, captions, out, batch_size, resume, lambda n: bar.advance(task, n))
    out_console.print(summary_table({captions.name: summary}))
    if summary["errors"]:
        console.print(f"[yellow]{summary['errors']} rows had errors; see the 'error' field in {out}[/yellow]")


@app.command("eval")
@reward_options
def evaluate(
    captions: list[Path] = typer.Option(..., "--captions", help="Caption JSONL files (the first is the baseline of the comparisons)."),
    more: list[Path] | None = typer.Argument(None, help="More caption files, as in --captions A.jsonl B.jsonl.", show_default=False),
    gallery: str | None = typer.Option(None, help=GALLERY_HELP),
    split: str | None = typer.Option(None, help="Require every id to be a shapes scene of this split (e.g. test)."),
    resamples: int = typer.Option(2000, help="Bootstrap resamples."),
    references: Path | None = typer.Option(None, help='Reference captions JSONL ({"id", "reference"}) for CAPTURE, when capture-metric and its models are local.'),
    out_json: Path | None = typer.Option(None, help="Write the full results as JSON here."),
    out_md: Path | None = typer.Option(None, help="Write the Markdown tables here."),
    device: str | None = typer.Option(None, help=DEVICE_HELP),
    reward: ScorerOptions = ScorerOptions(),
) -> None:
    """Evaluate caption files: CIM metrics with bootstrap intervals, text statistics, shapes fact metrics, paired tests.

    Per file: reward, QIR, GRC (95% bootstrap intervals), self-retrieval rank of sources in the gallery, tokens,
    words, truncation and repetition rates; on shapes ids exact object / attribute / relation precision, recall,
    F1 and relation-QA accuracy. Every file after the first is compared with it by a paired bootstrap.
    """
    from cim.eval.evaluate import evaluate as run_evaluation
    from cim.eval.evaluate import to_markdown
    from cim.io import write_json

    scorer = make_scorer(gallery, reward, device)
    result = run_evaluation([*captions, *(more or [])], scorer, split=split, resamples=resamples, references=references)
    markdown = to_markdown(result)
    if out_json:
        write_json(out_json, result.model_dump(mode="json"))
    if out_md:
        out_md.parent.mkdir(parents=True, exist_ok=True)
        out_md.write_text(markdown, encoding="utf-8")
    out_console.print(markdown, markup=False, highlight=False, soft_wrap=True)
    if result.capture_skipped is not None:
        console.print(f"[yellow]CAPTURE skipped: {result.capture_skipped}[/yellow]")


@app.command("report")
@reward_options
def report(
    captions: Path = typer.Option(..., help='JSONL of {"id", "caption", "image" or "source_id"} lines.'),
    gallery: str | None = typer.Option(None, help=GALLERY_HELP),
    out: Path = typer.Option(Path("report.html"), "--out", help="HTML file to write (self-contained, works offline)."),
    limit: int | None = typer.Option(None, help="Only the first N rows of the captions file."),
    page_size: int = typer.Option(50, help="Cards per page."),
    device: str | None = typer.Option(None, help=DEVICE_HELP),
    reward: ScorerOptions = ScorerOptions(),
) -> None:
    """Score captions and write an HTML report: per-caption cards with the retrieved items, summary charts."""
    from cim.eval.report import write_report

    path = write_report(captions, make_scorer(gallery, reward, device), out, page_size=page_size, limit=limit)
    out_console.print(f"report: {path}")


def _train(run: Callable[[], Path]) -> None:
    """Run a training entry point and print the model folder."""
    _quiet_libraries()
    out_console.print(f"trained policy: {run()}")


RUN_FOLDER_HELP = "Run folder: recipe.yaml, checkpoints/, final/, log_history.json."
RESUME_HELP = "Continue the run in OUT from its last checkpoint."


@train_app.command("grpo")
def train_grpo(
    out: Path = typer.Option(..., "--out", help=RUN_FOLDER_HELP),
    recipe: str | None = typer.Option(None, help="YAML recipe path or built-in name (e.g. shapes-tiny); defaults when omitted."),
    overrides: list[str] = typer.Option([], "--set", help="Override a recipe key, e.g. --set grpo.max_steps=20 or --set reward.k=5 (repeatable)."),
    resume: bool = typer.Option(False, help=RESUME_HELP),
    device: str | None = typer.Option(None, help="Device of the reward's encoders (default: cuda if available)."),
) -> None:
    """GRPO of a vision-language captioner with the CIM reward; the recipe is checked before training starts."""
    from cim.train.recipe import GRPORecipe, load_recipe
    from cim.train.run import run_grpo

    _train(lambda: run_grpo(load_recipe(recipe, overrides, GRPORecipe), out, resume=resume, device=device))


@train_app.command("sft")
def train_sft(
    out: Path = typer.Option(..., "--out", help=RUN_FOLDER_HELP),
    recipe: str | None = typer.Option(None, help="YAML recipe path or built-in name (e.g. shapes-tiny-sft); defaults when omitted."),
    overrides: list[str] = typer.Option([], "--set", help="Override a recipe key, e.g. --set sft.max_steps=100 (repeatable)."),
    resume: bool = typer.Option(False, help=RESUME_HELP),
) -> None:
    """Supervised fine-tuning of a captioner on shapes captions of one level (e.g. the base of CIM-GRPO)."""
    from cim.train.recipe import SFTRecipe, load_recipe
    from cim.train.run import run_sft

    _train(lambda: run_sft(load_recipe(recipe, overrides, SFTRecipe), out, resume=resume))


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

        with build_progress() as report:
            manifest = reembed_gallery(folder, reembed, result["model"], device=device,
                                       progress=lambda done, total: report("re-embedding captions", done, total))  # fmt: skip
        out_console.print(f"re-embedded gallery: {reembed} ({manifest.count} items)")
    out_console.print(json.dumps(result["headline"]), soft_wrap=True, highlight=False, markup=False)


@shapes_app.command("export")
def shapes_export(
    split: str = typer.Option("test", help="gallery, train, val or test (SHAPES-500)."),
    level: str = typer.Option("complete", help="complete, no-attributes, one-object or wrong."),
    out: Path = typer.Option(..., "--out", help="Folder for images/ and captions.jsonl."),
    size: int = typer.Option(128, help="Render size in pixels."),
    n: int | None = typer.Option(None, help="Only the first N scenes."),
    seed: int = typer.Option(0, help="Seed of the caption variants."),
) -> None:
    """Write a split's scenes as PNGs plus a captions JSONL for `cim score`."""
    from cim.shapes import export_split

    out_console.print(f"captions: {export_split(split, level, out, size=size, n=n, seed=seed)}")


def before_after_table(rows: list[dict]) -> Table:
    table = Table("metric (SHAPES-500)", "base", "trained", "difference [95% CI]")
    for row in rows:
        table.add_row(row["metric"], f"{row['base']:.3f}", f"{row['cim']:.3f}",
                      f"{row['difference']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]")  # fmt: skip
    return table


@app.command("demo")
def demo(
    workdir: Path = typer.Option(Path("runs/demo"), help="Where results go (a finished GRPO run there is reused)."),
    recipe: str = typer.Option("shapes-tiny-plus", help="GRPO recipe: shapes-tiny-plus (CIM+, the default) or shapes-tiny (the paper's reward)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a key of the GRPO recipe (repeatable)."),
    base_overrides: list[str] = typer.Option([], "--base-set", help="Override a key of the base captioner's SFT recipes."),
    test_scenes: int | None = typer.Option(None, help="Evaluate on the first N SHAPES-500 scenes only."),
) -> None:
    """The main job: shapes gallery, tiny base captioner, GRPO with CIM+ (or --recipe shapes-tiny: the paper's reward),
    before/after table on SHAPES-500 with both relation QAs, repetition and length."""
    from cim.demo import run_demo

    _quiet_libraries()
    with build_progress() as report:
        result = run_demo(workdir, overrides, base_overrides, test_scenes,
                          lambda what: console.print(f"[bold]▶ {what}[/bold]"), report, recipe)  # fmt: skip
    out_console.print(summary_table(result["levels"]["summaries"]))
    for check in result["levels"]["checks"]:
        out_console.print(check)
    out_console.print(before_after_table(result["table"]))
    out_console.print(f"results: {workdir / 'results.json'}")
    out_console.print(json.dumps({row["metric"]: [round(row["base"], 4), round(row["cim"], 4)] for row in result["table"]}))


@app.command("serve")
@reward_options
def serve(
    gallery: str | None = typer.Option(None, help=GALLERY_HELP),
    host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default; use a token on anything else)."),
    port: int = typer.Option(3545, help="Port (the release's)."),
    max_k: int = typer.Option(16, help="Largest k a request may ask for (422 above); --k is the default of requests."),
    device: str | None = typer.Option(None, help=DEVICE_HELP),
    threads: int | None = typer.Option(None, help="Torch threads of the scorer (default: one per core; 1 beside a busy trainer)."),
    max_batch: int = typer.Option(256, help="Captions per scorer call (1: no micro-batching, the release's pattern)."),
    max_wait_ms: float = typer.Option(5.0, help="How long a request may wait for its batch to fill."),
    max_queue: int = typer.Option(8192, help="Captions waiting before new requests get 503."),
    max_items: int = typer.Option(1024, help="Captions per request (413 above)."),
    max_caption_chars: int = typer.Option(20000, help="Characters per caption (422 above)."),
    max_image_bytes: int = typer.Option(8 << 20, help="Bytes of an inline image (413 above)."),
    max_body_bytes: int = typer.Option(64 << 20, help="Bytes of a request body (413 above)."),
    empty_reward: float | None = typer.Option(None, help="Reward of an empty caption on /cim and /v1/openrlhf (default: 422)."),
    token: str | None = typer.Option(None, envvar=TOKEN_ENV, help="Bearer token every request must carry."),
    image_root: Path | None = typer.Option(None, help="Folder that image_path items may name (default: paths refused)."),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
    reward: ScorerOptions = ScorerOptions(),
) -> None:
    """Serve the CIM reward over HTTP: /v1/score (batches), /cim (the release's), /v1/openrlhf, /healthz, /metrics."""
    from cim.server.app import serve as run_server
    from cim.server.settings import ServeSettings

    _quiet_libraries()
    settings = ServeSettings.parse(dict(
        gallery=open_gallery(gallery), host=host, port=port, reward=reward, device=device, threads=threads, max_k=max_k,
        empty_reward=empty_reward, max_batch=max_batch, max_wait_ms=max_wait_ms, max_queue=max_queue,
        max_items=max_items, max_caption_chars=max_caption_chars, max_image_bytes=max_image_bytes,
        max_body_bytes=max_body_bytes, token=token, image_root=image_root, log_level=log_level,
    ))  # fmt: skip
    run_server(settings)


if __name__ == "__main__":
    app()
