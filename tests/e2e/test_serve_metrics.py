"""`slo-assets serve-metrics` as a real process on 127.0.0.1: what a scrape returns is the textfile's
samples (byte for byte) and the server's up and age series; a replaced file shows at the next scrape;
the running month is followed; a port in use, a remote host or a missing month exit 2 with one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from slo_assets import cli
from slo_assets.outputs.metrics_server import AGE, UP, is_loopback
from slo_assets.outputs.prometheus import exposition
from slo_assets.warehouse import layout
from slo_assets.warehouse.storage import Warehouse
from tests.unit.test_prometheus import MONTH, WINDOW

ROOT = Path(__file__).resolve().parents[2]
LABELS = {"slo": "api", "service": "web", "objective": "o", "window": "1M-calendar"}


def _write(warehouse: Path, month: str, payload: bytes) -> Path:
    store = Warehouse(warehouse)
    target = layout.PROMETHEUS_EXPOSITION.path(store, month)
    store.write_bytes_atomic(target, payload)
    return Path(str(target))


class Server:
    """serve-metrics in its own process, stopped by its PID."""

    def __init__(self, *args: str, env: dict | None = None):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "slo_assets.cli", "serve-metrics", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
        line = self.process.stdout.readline()  # printed once listening
        assert "/metrics" in line, line + self.process.stderr.read()
        self.url = line.split(" on ", 1)[1].split()[0]

    def scrape(self) -> str:
        with urllib.request.urlopen(self.url, timeout=10) as response:
            assert response.status == 200
            return response.read().decode()

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            _, err = self.process.communicate()
        return self.process.returncode, err


@pytest.fixture
def servers():
    started: list[Server] = []
    yield lambda *args, **kw: started.append(Server(*args, **kw)) or started[-1]
    for server in started:
        server.stop()


def _samples(text: str, prefix: str = "") -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text)
            for s in f.samples if s.name.startswith(prefix)}


def _value(text: str, name: str, **labels) -> float:
    return _samples(text)[(name, tuple(sorted(labels.items())))]


def test_a_scrape_is_the_textfile_then_up_and_age_and_a_replaced_file_shows_next(tmp_path, servers):
    payload = exposition(MONTH)
    path = _write(tmp_path, "2026-02", payload)
    written = time.time() - 3600  # an hour-old file
    os.utime(path, (written, written))
    server = servers("--warehouse", str(tmp_path), "--month", "2026-02", "--port", "0")
    text = server.scrape()
    assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/metrics")
    assert text.encode().startswith(payload)  # the file's bytes, then the server's own series
    extra = text.encode()[len(payload):].decode()
    assert set(_samples(extra)) == {(UP, (("period", "2026-02"),)), (AGE, (("period", "2026-02"),))}
    assert _samples(text) == {**_samples(payload.decode()), **_samples(extra)}
    assert _value(text, UP, period="2026-02") == 1.0
    assert 3600 <= _value(text, AGE, period="2026-02") < 3600 + 60
    assert _value(text, "slo_sli_ratio", **LABELS) == 0.9985

    better = replace(MONTH, windows=(replace(WINDOW, good=9995, sli=0.9995),))  # the month refreshed
    _write(tmp_path, "2026-02", exposition(better))
    again = server.scrape()
    assert _value(again, "slo_sli_ratio", **LABELS) == 0.9995 and _value(again, "slo_good_events_total", **LABELS) == 9995.0
    assert _value(again, AGE, period="2026-02") < 60  # just written

    code, err = server.stop()
    assert code == 0 and err.endswith("slo-assets serve-metrics: stopped\n") and "Traceback" not in err
    assert "2026-02: serving" in err  # each state said once on stderr


def test_the_running_month_is_followed_and_a_missing_file_is_up_0(tmp_path, servers):
    _write(tmp_path, "2026-10", exposition(MONTH))  # the month before the pinned one
    server = servers("--warehouse", str(tmp_path), "--port", "0", env={"SLO_ASSETS_NOW": "2026-11-15T12:00:00Z"})
    text = server.scrape()
    assert _samples(text) == {(UP, (("period", "2026-11"),)): 0.0}  # November has no exposition yet: nothing else
    _write(tmp_path, "2026-11", exposition(MONTH))
    assert _value(server.scrape(), UP, period="2026-11") == 1.0
    code, err = server.stop()
    assert code == 0 and "2026-11: " in err and "does not exist (yet)" in err and "Traceback" not in err


def test_a_port_in_use_exits_2_with_one_line(tmp_path):
    _write(tmp_path, "2026-02", exposition(MONTH))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "serve-metrics", "--warehouse", str(tmp_path), "--month",
                               "2026-02", "--port", str(port)], check=False, capture_output=True, text=True, cwd=ROOT, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (f"slo-assets serve-metrics: --port {port}: cannot listen on 127.0.0.1 (Address already in use); "
                           "another exporter there? choose another --port\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--host", "0.0.0.0"], "--host 0.0.0.0: not a loopback address"),
    (["--host", "192.168.1.10"], "--host 192.168.1.10: not a loopback address"),
    (["--month", "2026-03"], "--month 2026-03: no exposition in --warehouse"),
    (["--port", "70000"], None),
])
def test_bad_input_exits_2_before_serving(args, message, tmp_path, capsys):
    _write(tmp_path, "2026-02", exposition(MONTH))
    argv = ["serve-metrics", "--warehouse", str(tmp_path), *args]
    if message is None:  # argparse's own exit
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 2 and "expected a port from 0 to 65535, not '70000'" in capsys.readouterr().err
        return
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"slo-assets serve-metrics: {message}") and err.count("\n") == 1


def test_loopback_addresses():
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "::", "10.0.0.1", "example.com", ""))
