"""What `run` shows while it works: a progress bar on a terminal, plain lines elsewhere (CI, pipes, logs).

Both say, after each stage, what it found; the orchestration calls `stage` and `step` and knows
nothing of terminals."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


# A step that runs long (indexing 50,000 files) tells how far it is from deep inside a run: the CLI,
# which runs the steps in its own process, listens and shows each line while the step works.
_listeners: list[Callable[[str], None]] = []


@contextmanager
def listening(listener: Callable[[str], None]) -> Iterator[None]:
    """Hear every `tell` while inside."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def tell(text: str) -> None:
    """How far a long step is, to whoever listens (nobody: nothing happens)."""
    for listener in list(_listeners):
        listener(text)


class Ticker:
    """A count of work done, said at most every `every_s` seconds (a step shorter than that says
    nothing), and once more when it ends if it said anything: `label: 12,000 of 50,000 files read
    (2,400/s)`. Call it with (what, done, total)."""

    def __init__(self, say: Callable[[str], None], label: str, every_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.say = say
        self.label = label
        self.every_s = every_s
        self.clock = clock
        self.started = clock()
        self.last: dict[str, float] = {}
        self.first: dict[str, tuple[float, int]] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        now = self.clock()
        # the first count is timed from the start, a later one from when it was first heard
        start, done_before = self.first.setdefault(what, (now, done) if self.first else (self.started, 0))
        last = self.last.get(what)
        finished = done >= total and last is not None
        if not finished and now - (self.started if last is None else last) < self.every_s:
            return
        self.last[what] = now
        rate = (done - done_before) / (now - start) if now > start else 0.0
        self.say(f"{self.label}: {done:,} of {total:,} {what} ({rate:,.0f}/s)")
