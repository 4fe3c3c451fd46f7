"""What every `cim` command shares: the user-error wrapper, the reward-option flags, progress and galleries."""

from __future__ import annotations

import functools
import inspect
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

from cim.errors import CIMError
from cim.progress import ProgressLines
from cim.reward.options import ScorerOptions


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


console = Console(stderr=True)
out_console = Console()


def progress_columns() -> list:
    return [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]


def _quiet_libraries() -> None:
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()


DEVICE_HELP = "cpu, cuda … (default: cuda if available)."
GALLERY_HELP = "Gallery folder, or a cached shapes gallery name such as shapes-5000 (built on first use); default shapes-20000."


@contextmanager
def progress_reporter() -> Iterator[Callable[[str, int, int | None], None]]:
    """A (stage, done, total) callback for long work: a live bar on a terminal, which appears once something
    reports; plain lines (`cim.progress`) where stderr is a log file or a pipe."""
    if not console.is_terminal:
        yield ProgressLines()
        return
    bar = Progress(*progress_columns(), console=console)
    task = bar.add_task("", total=None, visible=False)

    def report(stage: str, done: int, total: int | None = None) -> None:
        bar.start()
        bar.update(task, description=stage, completed=done, total=total, visible=True)

    try:
        yield report
    finally:
        if bar.live.is_started:
            bar.stop()


def open_gallery(name_or_path: str | None) -> Path:
    """The folder a --gallery value stands for, building a named shapes gallery (with a progress bar) if needed."""
    from cim.gallery.named import resolve_gallery

    with progress_reporter() as report:
        return resolve_gallery(name_or_path, report)


