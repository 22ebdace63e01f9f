"""What `run` shows while it works: a progress bar on a terminal, plain lines elsewhere (CI, pipes, logs).

Both say, after each stage, what it found; the orchestration calls `stage` and `step` and knows
nothing of terminals."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from rich.progress import TaskID


class Progress(Protocol):
    def begin(self, total_steps: int) -> None: ...
    def step(self, label: str, found: str) -> None: ...  # one run finished, and what it found
    def note(self, text: str) -> None: ...  # a line that stays on screen
    def end(self) -> None: ...


class PlainProgress:
    """One line per step: `[12/34] 2026-10-12: 6,451 rows, 3 quarantined`."""

    def __init__(self, stream: TextIO | None = None, every_step: bool = True) -> None:
        self.stream = stream or sys.stdout
        self.every_step = every_step
        self.done = 0
        self.total = 0

    def begin(self, total_steps: int) -> None:
        self.total = total_steps

    def step(self, label: str, found: str) -> None:
        self.done += 1
        if self.every_step:
            print(f"[{self.done}/{self.total}] {label}: {found}", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def end(self) -> None:
        pass


class RichProgress:
    """A bar with the current step, and a line per stage that stays above it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self.console = Console(file=stream or sys.stdout)
        self.bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       console=self.console, transient=True)
        self.task: TaskID | None = None

    def begin(self, total_steps: int) -> None:
        self.bar.start()
        self.task = self.bar.add_task("starting", total=total_steps)

    def step(self, label: str, found: str) -> None:
        if self.task is not None:
            self.bar.update(self.task, advance=1, description=f"{label}: {found}")

    def note(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)

    def end(self) -> None:
        self.bar.stop()


def for_stream(stream: TextIO | None = None, verbose: bool = False) -> Progress:
    """A bar on a terminal, plain lines otherwise (every run with `verbose`, else only the stage notes)."""
    stream = stream or sys.stdout
    if stream.isatty() and not verbose:
        return RichProgress(stream)
    return PlainProgress(stream, every_step=verbose)
