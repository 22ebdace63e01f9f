"""What `run` shows while it works: a bar on a terminal, plain lines elsewhere, and the stage notes in both."""

from __future__ import annotations

import io

from slo_assets.core.progress import PlainProgress, RichProgress, for_stream


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _drive(progress) -> None:
    progress.begin(3)
    progress.step("log_file_index", "2 files, 10,000 rows")
    progress.note("log files: 2 read, 10,000 lines: 10,000 rows, 0 quarantined, 0 blank")
    progress.step("2015-05-17", "2,500 rows, 0 quarantined")
    progress.step("2015-05", "compliance_report")
    progress.end()


def test_a_terminal_gets_a_bar_and_keeps_the_notes():
    screen = Terminal()
    progress = for_stream(screen)
    assert isinstance(progress, RichProgress)
    _drive(progress)
    assert "log files: 2 read, 10,000 lines" in screen.getvalue()


def test_a_pipe_gets_plain_lines_notes_only_unless_verbose():
    quiet, verbose = io.StringIO(), io.StringIO()
    _drive(for_stream(quiet))
    _drive(for_stream(verbose, verbose=True))
    assert quiet.getvalue().splitlines() == ["log files: 2 read, 10,000 lines: 10,000 rows, 0 quarantined, 0 blank"]
    assert verbose.getvalue().splitlines()[0] == "[1/3] log_file_index: 2 files, 10,000 rows"
    assert "\x1b[" not in verbose.getvalue()  # no terminal escapes in a log file
    assert isinstance(for_stream(Terminal(), verbose=True), PlainProgress)


def test_a_long_count_is_said_every_few_seconds_and_once_when_it_ends_and_reaches_listeners():
    from slo_assets.core.progress import Ticker, listening, tell

    now = [0.0]
    said: list[str] = []
    heard: list[str] = []
    ticker = Ticker(said.append, "log_file_index", every_s=5.0, clock=lambda: now[0])
    for done in range(1, 101):  # 100 files, 1/8 s each
        now[0] += 0.125
        ticker("files read", done, 100)
    assert said == [f"log_file_index: {done} of 100 files read (8/s)" for done in (40, 80, 100)]
    quick = Ticker(said.append, "log_file_index", every_s=5.0, clock=lambda: now[0])
    quick("files read", 3, 3)  # a step shorter than the interval says nothing
    assert len(said) == 3
    with listening(heard.append):
        tell("indexing")
    tell("nobody listens")
    assert heard == ["indexing"]
