"""The `cim` command: parse arguments, call the library, print results. Heavy imports stay inside commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cim.cli.common import (
    DEVICE_HELP,
    GALLERY_HELP,
    CimTyper,
    _quiet_libraries,
    console,
    open_gallery,
    out_console,
    progress_reporter,
    reward_options,
)
from cim.cli.galleries import encoder_app, gallery_app
from cim.reward.options import ScorerOptions
from cim.wire import TOKEN_ENV

app = CimTyper(help="Cross-modal Identity Mapping: retrieval-based caption rewards.", no_args_is_help=True)
shapes_app = CimTyper(help="The embedded shapes world.", no_args_is_help=True)
train_app = CimTyper(help="Train captioners with the CIM reward (GRPO through TRL).", no_args_is_help=True)
app.add_typer(gallery_app, name="gallery")
app.add_typer(encoder_app, name="encoder")
app.add_typer(shapes_app, name="shapes")
app.add_typer(train_app, name="train")


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
    total = sum(1 for line in captions.open("rb") if line.strip()) if captions.is_file() else None
    done = 0
    with progress_reporter() as report:

        def advance(n: int) -> None:
            nonlocal done
            done += n
            report("scoring", done, total)

        summary = score_file(scorer, captions, out, batch_size, resume, advance)
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
    qa_questions: Path | None = typer.Option(None, help="Relation questions for the paper's LLM relation QA: SC-Captioner's JSON or our JSONL (docs/relation-qa.md); needs --qa-model."),
    qa_model: str | None = typer.Option(None, help="Text-only causal LM (hub id or folder; the release uses Qwen/Qwen3-8B) that answers --qa-questions from each caption."),
    qa_batch_size: int = typer.Option(16, help="Prompts per generate call of the QA model (transformers)."),
    qa_max_new_tokens: int = typer.Option(128, help="New tokens per QA reply (the release: 128)."),
    qa_device: str | None = typer.Option(None, help="Device of the QA model: " + DEVICE_HELP),
    qa_backend: str = typer.Option("auto", help="auto (vLLM when installed and a GPU is present), transformers or vllm."),
    reward: ScorerOptions = ScorerOptions(),
) -> None:
    """Evaluate caption files: CIM metrics with bootstrap intervals, text statistics, shapes fact metrics, paired tests.

    Per file: reward, QIR, GRC (95% bootstrap intervals), self-retrieval rank of sources in the gallery, tokens,
    words, truncation and repetition rates; on shapes ids exact object / attribute / relation precision, recall,
    F1 and relation-QA accuracy; with --qa-questions and --qa-model the paper's relation QA (relation_qa_llm:
    an LLM answers each image's questions from the caption alone). Every file after the first is compared with
    it by a paired bootstrap.
    """
    from cim.eval.evaluate import evaluate as run_evaluation
    from cim.eval.evaluate import to_markdown
    from cim.eval.llm_relation_qa import setup_relation_qa
    from cim.io import write_json

    relation_qa = setup_relation_qa(qa_questions, qa_model, batch_size=qa_batch_size, max_new_tokens=qa_max_new_tokens,
                                    device=qa_device, backend=qa_backend)  # fmt: skip
    scorer = make_scorer(gallery, reward, device)
    result = run_evaluation([*captions, *(more or [])], scorer, split=split, resamples=resamples, references=references,
                            relation_qa=relation_qa)  # fmt: skip
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
    reward_url: str | None = typer.Option(None, help="Score through a running `cim serve` at this URL (each rank sends its own completions) instead of in-process; the server's reward options rule."),
) -> None:
    """GRPO of a vision-language captioner with the CIM reward; the recipe is checked before training starts.
    Under `accelerate launch --num_processes N` each rank trains on its share of the prompts."""
    from cim.train.recipe import GRPORecipe, load_recipe
    from cim.train.run import run_grpo

    _train(lambda: run_grpo(load_recipe(recipe, overrides, GRPORecipe), out, resume=resume, device=device, reward_url=reward_url))


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
    full: bool = typer.Option(False, help="Run the recipe as it is: the 20,000-scene gallery and 150 steps of the experiments (~30 min)."),
    train_base: bool = typer.Option(False, help="Train the base captioner here (~13 min) instead of using the bundled one."),
) -> None:
    """The main job: shapes gallery, tiny base captioner, GRPO with CIM+ (or --recipe shapes-tiny: the paper's reward),
    before/after table on SHAPES-500 with both relation QAs, repetition and length."""
    from cim.demo import run_demo

    _quiet_libraries()
    with progress_reporter() as report:
        result = run_demo(workdir, overrides, base_overrides, test_scenes,
                          lambda what: console.print(f"[bold]▶ {what}[/bold]"), report, recipe, full, train_base)  # fmt: skip
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


