"""The commands that read a warehouse (report, review, gate, ack, backtest) say when --warehouse does
not exist, instead of reporting an empty one; ack wants a name for who acknowledges."""

from __future__ import annotations

import pytest

from slo_assets import cli


@pytest.mark.parametrize("command", [
    ["report", "--month", "2026-02", "--out", "{tmp}/out"],
    ["review", "--period", "2026-Q1", "--out", "{tmp}/out"],
    ["gate", "--service", "checkout"],
    ["ack", "2026-02/checkout-availability", "--by", "sre"],
    ["backtest"],
])
def test_a_missing_warehouse_is_named_as_missing(command, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    argv = [part.format(tmp=tmp_path) for part in command] + ["--warehouse", str(tmp_path / "typo")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"slo-assets {command[0]}: --warehouse {tmp_path / 'typo'}: does not exist\n"


@pytest.mark.parametrize("who", ["", "   ", "sre\x1b[2J"])
def test_ack_wants_a_printable_name(who, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert cli.main(["ack", "2026-02/checkout-availability", "--by", who, "--warehouse", str(tmp_path)]) == 2
    assert "--by" in capsys.readouterr().err


def test_every_command_is_guarded_so_no_traceback_reaches_the_screen(tmp_path, capsys):
    """generate-logs, validate and rules had no guard of their own: an output path under a file ended in a
    traceback. main() guards every command: one line naming the problem, exit 2."""
    (tmp_path / "afile").write_text("x")
    assert cli.main(["generate-logs", str(tmp_path / "afile" / "logs"), "--month", "2026-02", "--events", "10"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines() == [
        f"slo-assets generate-logs: [Errno 20] Not a directory: '{tmp_path / 'afile' / 'logs'}'"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--events", "-5"], "argument --events: expected a whole number, 1 or more, not '-5'"),  # was "unexpected ValueError: n < 0"
    (["--events", "0"], "argument --events: expected a whole number, 1 or more, not '0'"),
    (["--incidents", "9"], "argument --incidents: expected 0 to 4 incidents, not '9'"),  # was accepted, 4 written
    (["--malformed-ratio", "2"], "argument --malformed-ratio: expected a share between 0 and 1, not '2'"),
    (["--malformed-ratio", "nan"], "argument --malformed-ratio: expected a share between 0 and 1, not 'nan'"),
    (["--month", "9999-12"], "argument --month: month must be between 1970-01 and 9998-12, not '9999-12'"),  # was OverflowError
])
def test_generate_logs_refuses_bad_arguments_in_one_line(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["generate-logs", str(tmp_path / "logs"), "--month", "2026-02", "--events", "10", *argv])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err  # one line, not the usage first
    assert err.strip().splitlines() == [f"slo-assets generate-logs: error: {message} (slo-assets generate-logs --help lists the options)"]
    assert not (tmp_path / "logs").exists()


def test_report_into_a_file_names_the_option(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    (tmp_path / "wh").mkdir()
    (tmp_path / "afile").write_text("x")
    assert cli.main(["report", "--month", "2026-02", "--out", str(tmp_path / "afile"), "--warehouse", str(tmp_path / "wh")]) == 2
    assert capsys.readouterr().err == (f"slo-assets report: --out {tmp_path / 'afile' / '2026-02'}: cannot write there "
                                       "(NotADirectoryError: Not a directory)\n")
