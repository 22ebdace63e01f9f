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
