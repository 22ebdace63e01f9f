"""The action layer's security (issue 11, D20-D24): log values never become options, secrets never
reach an outcome, redirects are not followed, deadlines bound whole attempts, cwd stays in its root."""

from __future__ import annotations

import base64
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from slo_assets.core.safe_yaml import SHOWN_CHARACTERS
from slo_assets.remediation import actions as A
from slo_assets.remediation.models import CommandAction, Incident, NotifyAction, OperationCount, PlanEntry
from slo_assets.remediation.runbooks import RunbookError, load_runbooks

INCIDENT = Incident(service="checkout", slo="checkout-availability", start="2026-02-10T10:00:00Z", end="2026-02-10T11:00:00Z", severity="page",
                    bad_events=42, peak_burn_rate=30.0, top_operations=[OperationCount(operation="POST /checkout/api/v1/orders", bad_events=40)])
ENTRY = PlanEntry(slo="checkout-availability", service="checkout", status="failed", severity="page", shape="error_burst", windows=(),
                  fingerprint="f1", incidents=[INCIDENT], runbooks=(), actions=(), note=None)
PLANTED = "planted-s3cr3t-value-9c1e77"
PATH_ONLY = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def _entry_with_operation(operation: str) -> PlanEntry:
    incident = INCIDENT.model_copy(update={"top_operations": (OperationCount(operation=operation, bad_events=1),)})
    return ENTRY.model_copy(update={"incidents": (incident,)})


def _runbook(folder: Path, actions: str, name: str = "rb") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"""apiVersion: slo-assets/v1
kind: Runbook
metadata: {{name: {name}}}
spec:
  match: {{status: failed}}
  actions:
{actions}""")
    return path


def _only_action(path: Path, **options):
    (runbook,) = load_runbooks([path], **options)
    return runbook.actions[0]


# D20: a log value starting with "-" never becomes an option --------------------------------------

@pytest.mark.parametrize("value", ["--version", "-rf"])
def test_a_log_value_that_looks_like_an_option_is_refused_by_default(tmp_path, value):
    work = tmp_path / "work"
    work.mkdir()
    action = _only_action(_runbook(tmp_path, '    - {kind: command, name: touch, argv: [touch, "{op}"], '
                                             'map_fields: {"{op}": top_operation}, cwd: work, env_allow: [PATH]}\n'))
    outcome = A.carry_out(action, _entry_with_operation(value), "2026-02", "k", [], execute=True, env=PATH_ONLY)
    assert outcome.status == "failed" and "top_operation" in outcome.reason and "-" in outcome.reason
    assert outcome.attempts == 0 and list(work.iterdir()) == []  # nothing ran
    dry = A.carry_out(action, _entry_with_operation(value), "2026-02", "k", [], execute=False, env=PATH_ONLY)
    assert dry.status == "failed" and "top_operation" in dry.reason  # the dry run says it would be refused


@pytest.mark.parametrize("value", ["--version", "-rf"])
def test_values_after_double_dash_pass_a_dash_value_as_an_operand(tmp_path, value):
    work = tmp_path / "work"
    work.mkdir()
    action = _only_action(_runbook(tmp_path, '    - {kind: command, name: touch, argv: [touch, "{op}"], values_after: "--", '
                                             'map_fields: {"{op}": top_operation}, cwd: work, env_allow: [PATH]}\n'))
    outcome = A.carry_out(action, _entry_with_operation(value), "2026-02", "k", [], execute=True, env=PATH_ONLY)
    assert outcome.status == "ok", outcome.reason
    assert outcome.detail["argv"] == ["touch", "--", value]
    assert [p.name for p in work.iterdir()] == [value]  # a file named after the value, not an option of touch


# D21: secret values are redacted from every stored outcome ---------------------------------------

@pytest.mark.parametrize("declared", ["env_allow: [PATH, {name: TOKEN, secret: true}]", "env_allow: [PATH], secret_env: [TOKEN]"])
def test_a_secret_variable_printed_by_a_command_is_redacted(tmp_path, declared):
    # The secret straddles the 2,000-character tail kept from stdout: a cut after redaction keeps no piece.
    script = "import os; t = os.environ['TOKEN']; print('a' * 5000 + t[:5]); print(t + 'b' * 1990); print(t, file=os.sys.stderr); raise SystemExit(3)"
    action = _only_action(_runbook(tmp_path, f'    - {{kind: command, name: leak, argv: [{sys.executable}, -c, "{script}"], {declared}}}\n'))
    outcome = A.carry_out(action, ENTRY, "2026-02", "k", [], execute=True, env={**PATH_ONLY, "TOKEN": PLANTED})
    stored = outcome.model_dump_json()
    assert outcome.status == "failed" and outcome.detail["exit_code"] == 3
    assert all(PLANTED[i:i + 6] not in stored for i in range(len(PLANTED) - 5)), stored
    assert outcome.detail["stdout"].startswith("ed:TOKEN]bbb")  # the marker was cut, not the secret
    assert outcome.detail["stderr"] == "[redacted:TOKEN]\n"


def test_redact_replaces_every_secret_in_nested_values_and_leaves_the_rest():
    secrets = {"URL": "http://hook.example/abc123", "KEY": "k-123456"}
    value = {"reason": "sent k-123456 to http://hook.example/abc123/x", "list": ["k-123456", 7, None], "nested": {"a": "plain"}}
    assert A.redact(value, secrets) == {"reason": "sent [redacted:KEY] to [redacted:URL]/x", "list": ["[redacted:KEY]", 7, None],
                                        "nested": {"a": "plain"}}
    assert A.redact("nothing here", {"EMPTY": ""}) == "nothing here"  # an empty value redacts nothing


def test_old_runbooks_with_plain_env_allow_lists_stay_valid(tmp_path):
    action = _only_action(_runbook(tmp_path, "    - {kind: command, name: show, argv: [echo, hi], env_allow: [PATH, HOME]}\n"))
    assert action.secret_env_names() == set()
    outcome = A.carry_out(action, ENTRY, "2026-02", "k", [], execute=True, env=PATH_ONLY)
    assert outcome.status == "ok" and outcome.detail["stdout"] == "hi\n"


# D22: a redirect is not followed, so no configured header reaches another host ------------------

class _Recording(http.server.BaseHTTPRequestHandler):
    """Records the headers it gets; or, with `location`, answers `code` pointing there."""
    seen: list[dict] = []
    location = ""
    code = 307

    def _answer(self):
        if type(self).location:
            self.send_response(type(self).code)
            self.send_header("Location", type(self).location)
        else:
            type(self).seen.append(dict(self.headers))
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _answer  # noqa: N815

    def log_message(self, *args):
        pass


def _serve(handler) -> tuple[http.server.ThreadingHTTPServer, str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"127.0.0.1:{httpd.server_address[1]}"


@pytest.mark.parametrize("status_code", [302, 307])
def test_a_redirect_to_another_host_is_not_followed_and_no_header_is_forwarded(tmp_path, status_code):
    other = type("Other", (_Recording,), {"seen": []})
    target, target_host = _serve(other)
    redirector = type("Redirector", (_Recording,), {"location": f"http://{target_host}/steal", "code": status_code})
    first, first_host = _serve(redirector)
    try:
        action = _only_action(_runbook(tmp_path, "    - {kind: webhook, name: hook, url_env: HOOK_URL, "
                                                 "headers_env: {X-Api-Key: HOOK_KEY, Authorization: HOOK_AUTH}}\n"))
        env = {"HOOK_URL": f"http://{first_host}/hook", "HOOK_KEY": PLANTED, "HOOK_AUTH": "Bearer " + PLANTED}
        outcome = A.carry_out(action, ENTRY, "2026-02", "k", [], execute=True, env=env)
    finally:
        first.shutdown()
        target.shutdown()
    assert other.seen == []  # the other host got nothing, let alone the key
    assert outcome.status == "failed" and f"HTTP {status_code}" in outcome.reason and target_host in outcome.reason
    assert PLANTED not in outcome.model_dump_json()


# D23: a deadline per attempt, a capped body, and a killed process group ---------------------------

class _Trickler:
    """Answers one request: sends the first `at_once` bytes of `payload`, then one byte every 0.5 s.
    It stops by itself after `limit_s` seconds, or when closed."""

    def __init__(self, payload: bytes, at_once: int, limit_s: float = 10.0):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.payload, self.at_once, self.limit_s = payload, at_once, limit_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/slow"

    def _run(self):
        self.sock.settimeout(self.limit_s)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(1.0)
            started = time.monotonic()
            try:
                conn.recv(65536)
                conn.sendall(self.payload[:self.at_once])
                for byte in self.payload[self.at_once:]:
                    if self.stop.is_set() or time.monotonic() - started > self.limit_s:
                        return
                    time.sleep(0.5)
                    conn.sendall(bytes([byte]))
            except OSError:
                return

    def close(self):
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=12)


@pytest.mark.parametrize("trickle", ["body", "headers"])
def test_a_trickling_server_is_cut_at_the_deadline(tmp_path, trickle):
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n"
    server = _Trickler(head + b"x" * 20, len(head) if trickle == "body" else 0)
    action = _only_action(_runbook(tmp_path, "    - {kind: notify, name: slow, url_env: HOOK_URL, timeout: 2s}\n"))
    try:
        started = time.monotonic()
        outcome = A.carry_out(action, ENTRY, "2026-02", "k", [], execute=True, env={"HOOK_URL": server.url})
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert elapsed < 2 + 2, elapsed
    assert outcome.status == "failed" and "timeout" in outcome.reason.lower()


def test_a_large_response_body_is_read_only_up_to_the_cap():
    class Big(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(10 * 1024 * 1024))
            self.end_headers()
            try:
                for _ in range(160):
                    self.wfile.write(b"y" * 65536)
            except OSError:
                pass  # the client stopped reading at the cap

        def log_message(self, *args):
            pass

    httpd, host = _serve(Big)
    try:
        action = A.Action(runbook="rb", spec=NotifyAction(name="n", url_env="U"), timeout_s=5)
        outcome = A.carry_out(action, ENTRY, "2026-02", "k", [], execute=True, env={"U": f"http://{host}/"})
    finally:
        httpd.shutdown()
    assert outcome.status == "ok" and outcome.detail["body_bytes_read"] == A.MAX_BODY_BYTES


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_command_timeout_kills_its_whole_process_group(tmp_path):
    script = ("import subprocess, sys; child = subprocess.Popen(['sleep', '30']); "
              f"open('{tmp_path / 'child.pid'}', 'w').write(str(child.pid)); child.wait()")
    action = _only_action(_runbook(tmp_path, f'    - {{kind: command, name: forks, argv: [{sys.executable}, -c, "{script}"], '
                                             f'timeout: 1s, env_allow: [PATH]}}\n'))
    started = time.monotonic()
    outcome = A.carry_out(action, ENTRY, "2026-02", "k", [], execute=True, env=PATH_ONLY)
    elapsed = time.monotonic() - started
    child = int((tmp_path / "child.pid").read_text())
    try:
        deadline = time.monotonic() + 3
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the forked child outlived the timeout"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)
    assert outcome.status == "failed" and "timed out" in outcome.reason and elapsed < 1 + 2


# D24: the command's cwd stays inside the allowed root --------------------------------------------

@pytest.mark.parametrize("cwd", ["..", "work/../..", "/tmp", "link-out"])
def test_a_cwd_escaping_the_allowed_root_is_rejected_at_load(tmp_path, cwd):
    folder = tmp_path / "runbooks"
    (folder / "work").mkdir(parents=True)
    (folder / "link-out").symlink_to(tmp_path)
    path = _runbook(folder, f"    - {{kind: annotate, name: first}}\n    - {{kind: command, name: c, argv: [pwd], cwd: {cwd}}}\n")
    with pytest.raises(RunbookError) as error:
        load_runbooks([path])
    assert f"{path}: document 1 (rb): spec.actions.1.cwd:" in str(error.value) and "outside the allowed root" in str(error.value)


def test_cwd_inside_the_root_runs_there_and_a_swapped_symlink_is_caught_at_run_time(tmp_path):
    folder = tmp_path / "runbooks"
    (folder / "work").mkdir(parents=True)
    action = _only_action(_runbook(folder, "    - {kind: command, name: c, argv: [pwd], cwd: work, env_allow: [PATH]}\n"))
    ran = A.carry_out(action, ENTRY, "2026-02", "k", [], execute=True, env=PATH_ONLY)
    assert ran.status == "ok" and Path(ran.detail["stdout"].strip()).resolve() == (folder / "work").resolve()
    (folder / "work").rmdir()
    (folder / "work").symlink_to(tmp_path)  # swapped after the runbooks were loaded
    escaped = A.carry_out(action, ENTRY, "2026-02", "k2", [], execute=True, env=PATH_ONLY)
    assert escaped.status == "failed" and "outside the allowed root" in escaped.reason and escaped.attempts == 0


def test_no_cwd_runs_in_the_root_and_a_configured_root_widens_it(tmp_path):
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (tmp_path / "sibling").mkdir()
    default = _only_action(_runbook(folder, "    - {kind: command, name: c, argv: [pwd], env_allow: [PATH]}\n"))
    ran = A.carry_out(default, ENTRY, "2026-02", "k", [], execute=True, env=PATH_ONLY)
    assert Path(ran.detail["stdout"].strip()).resolve() == folder.resolve()
    path = _runbook(folder, "    - {kind: command, name: c, argv: [pwd], cwd: ../sibling, env_allow: [PATH]}\n", name="wide")
    with pytest.raises(RunbookError):
        load_runbooks([path])
    wide = _only_action(path, allowed_cwd_root=tmp_path)
    ran = A.carry_out(wide, ENTRY, "2026-02", "k", [], execute=True, env=PATH_ONLY)
    assert ran.status == "ok" and Path(ran.detail["stdout"].strip()).resolve() == (tmp_path / "sibling").resolve()


def test_a_malformed_url_or_argument_is_a_failed_outcome_not_a_crash(tmp_path):
    hook = A.Action(runbook="rb", spec=NotifyAction(name="n", url_env="U"), timeout_s=2)
    for url in ("http://[::1", "not a url", "http://exa\u0000mple/"):
        outcome = A.carry_out(hook, ENTRY, "2026-02", url, [], execute=True, env={"U": url})
        assert outcome.status == "failed" and outcome.reason
    action = _only_action(_runbook(tmp_path, '    - {kind: command, name: nul, argv: [echo, "a\\0b"], env_allow: [PATH]}\n'))
    outcome = A.carry_out(action, ENTRY, "2026-02", "k", [], execute=True, env=PATH_ONLY)
    assert outcome.status == "failed" and "cannot start" in outcome.reason


# A YAML alias bomb is refused before anything walks it -----------------------------------------

_BOMB_CHILD = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # a regression fails here, not on the machine
from pathlib import Path
from slo_assets.remediation.runbooks import RunbookError, load_runbooks
started = time.monotonic()
try:
    load_runbooks([Path(sys.argv[1])])
    problems = []
except RunbookError as error:
    problems = error.problems
print(json.dumps({"elapsed": time.monotonic() - started, "problems": problems}))
"""


def _load_in_child(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", _BOMB_CHILD, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _bomb(levels: int) -> str:
    lines = ['  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"  l{n}: &l{n} [" + ",".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("place", ["text", "argv"])
def test_a_yaml_alias_bomb_is_refused_at_once_in_one_line(tmp_path, place):
    # 9 levels of 9 aliases: under 1 KB, 9^9 strings once expanded (validating or printing it did that).
    action = "{kind: annotate, name: boom, text: *l8}" if place == "text" else "{kind: command, name: boom, argv: *l8}"
    path = tmp_path / "bomb.yaml"
    path.write_text(f"apiVersion: slo-assets/v1\nkind: Runbook\nmetadata: {{name: rb}}\nx:\n{_bomb(9)}"
                    f"spec:\n  match: {{status: failed}}\n  actions:\n    - {action}\n")
    assert path.stat().st_size < 1024
    loaded = _load_in_child(path)
    assert loaded["elapsed"] < 1.0, loaded["elapsed"]
    (problem,) = loaded["problems"]
    assert problem.startswith(f"{path}: line ") and "aliases expand to more than" in problem and "\n" not in problem


@pytest.mark.parametrize(("body", "expected"), [
    ("spec: &spec\n  match: {status: failed}\n  actions:\n    - {kind: annotate, name: a, text: *spec}\n",
     "line 7: document 1: alias *spec is inside the node it names (a cycle); refused"),
    ("spec: {match: {status: failed}, actions: [{kind: annotate, name: a, text: " + "[" * 3000 + "]" * 3000 + "}]}\n",
     "line 4: document 1: nested deeper than 64 levels; refused"),
    ("x: &deep " + "[" * 60 + "]" * 60 + "\nspec: {match: {status: failed}, actions: [{kind: annotate, name: a, text: [[[[[[*deep]]]]]]}]}\n",
     "line 5: document 1: alias *deep nests deeper than 64 levels; refused"),
])
def test_a_self_holding_or_too_deep_document_is_refused_in_one_line(tmp_path, body, expected):
    # Each recursed without end or past Python's limit (a RecursionError, not a problem line).
    path = tmp_path / "hostile.yaml"
    path.write_text("apiVersion: slo-assets/v1\nkind: Runbook\nmetadata: {name: rb}\n" + body)
    (problem,) = _load_in_child(path)["problems"]
    assert problem == f"{path}: {expected}"


def test_aliases_that_repeat_a_little_still_load_and_long_values_are_shortened_in_problems(tmp_path):
    shared = _runbook(tmp_path, "    - &hook {kind: webhook, name: a, url_env: HOOK_URL, headers_env: &headers {X-Key: HOOK_KEY}}\n"
                                "    - {kind: webhook, name: b, url_env: OTHER_URL, headers_env: *headers}\n", name="shared")
    (runbook,) = load_runbooks([shared])
    assert [a.spec.headers_env for a in runbook.actions] == [{"X-Key": "HOOK_KEY"}] * 2
    long_value = _runbook(tmp_path, "    - {kind: annotate, name: a, text: [" + ",".join(["'" + "z" * 500 + "'"] * 50) + "]}\n", name="long")
    with pytest.raises(RunbookError) as error:
        load_runbooks([long_value])
    (problem,) = error.value.problems
    assert problem.startswith(f"{long_value}: document 1 (long): spec.actions.0.text: [") and problem.endswith("is not of type 'string'")
    assert len(problem) < len(str(long_value)) + 100 + 2 * SHOWN_CHARACTERS, problem  # the value at most twice 80 characters


# A value from the logs never chooses the program ------------------------------------------------

@pytest.mark.parametrize(("argv", "mapping"), [('["{op}", x]', '{"{op}": top_operation}'), ('["/usr/bin/{op}"]', '{"{op}": top_operation}'),
                                               ("[OP]", "{OP: top_operation}"), ('["{op}"]', "{}")])
def test_a_placeholder_as_the_program_is_refused_at_load(tmp_path, argv, mapping):
    path = _runbook(tmp_path, f"    - {{kind: annotate, name: first}}\n    - {{kind: command, name: run-op, argv: {argv}, map_fields: {mapping}}}\n")
    with pytest.raises(RunbookError) as error:
        load_runbooks([path])
    (problem,) = error.value.problems
    assert problem.startswith(f"{path}: document 1 (rb): spec.actions.1.argv.0: ") and "(action run-op)" in problem
    assert "the program must be fixed" in problem and "\n" not in problem


@pytest.mark.parametrize("operation", ["/usr/bin/id", "planted"])
def test_an_operation_from_the_logs_is_never_executed(tmp_path, monkeypatch, operation):
    marker = tmp_path / "ran"
    if operation == "planted":  # a program of the attacker's that would leave a trace
        operation = str(tmp_path / "planted.sh")
        Path(operation).write_text(f"#!/bin/sh\ntouch {marker}\n")
        Path(operation).chmod(0o755)
    started: list[list[str]] = []
    real_popen = A.subprocess.Popen
    monkeypatch.setattr(A.subprocess, "Popen", lambda argv, **kw: started.append(list(argv)) or real_popen(argv, **kw))
    # Built in code, as load_runbooks would refuse it: the run itself must refuse too.
    action = A.Action(runbook="rb", spec=CommandAction(name="run-op", argv=["{op}", "now"], map_fields={"{op}": "top_operation"},
                                                       env_allow=["PATH"]))
    outcome = A.carry_out(action, _entry_with_operation(operation), "2026-02", "k", [], execute=True, env=PATH_ONLY)
    assert started == [] and not marker.exists()
    assert outcome.status == "failed" and outcome.attempts == 0 and "program" in outcome.reason
    fixed = A.Action(runbook="rb", spec=CommandAction(name="echo-op", argv=["echo", "{op}"], map_fields={"{op}": "top_operation"},
                                                      env_allow=["PATH"]))
    echoed = A.carry_out(fixed, _entry_with_operation(operation), "2026-02", "k", [], execute=True, env=PATH_ONLY)
    assert started == [["echo", operation]] and echoed.detail["stdout"] == operation + "\n"  # a later argument: data only


# A URL from the environment is redacted in whatever piece a server echoes -----------------------

SLACK_TOKEN = "xq7Hk2PlantedHookToken9c1e"


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers 404 with a page repeating `echo(handler)`: the path, a piece of it, a header..."""
    echo = staticmethod(lambda handler: handler.path)
    filler = 0

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        body = ("." * type(self).filler + f"<h1>Not Found</h1><p>no hook at {type(self).echo(self)}</p>").encode()
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("echo", "kind"), [
    (lambda h: h.path, "slack"), (lambda h: h.path, "webhook"), (lambda h: h.path, "notify"),
    (lambda h: h.path.rsplit("/", 1)[-1], "slack"),  # the token alone
    (lambda h: "/".join(h.path.split("/")[3:]), "webhook"),  # the path without its first segments
    (lambda h: h.headers["Authorization"], "webhook"),  # the Basic credentials built from the URL's user-info
])
def test_a_server_echoing_the_secret_url_path_stores_no_token(tmp_path, echo, kind):
    handler = type("Echo", (_Echo,), {"echo": staticmethod(echo)})
    httpd, host = _serve(handler)
    url = f"http://hook:{SLACK_TOKEN}@{host}/services/T0PLANT01/B0PLANT02/{SLACK_TOKEN}?sig={SLACK_TOKEN[::-1]}"
    try:
        action = _only_action(_runbook(tmp_path, f"    - {{kind: {kind}, name: hook, url_env: HOOK_URL}}\n"))
        outcome = A.carry_out(action, ENTRY.model_copy(update={"slo": "services-availability"}), "2026-02", "k", [], execute=True,
                              env={"HOOK_URL": url})
    finally:
        httpd.shutdown()
    stored = outcome.model_dump_json()
    assert outcome.status == "failed" and outcome.reason == "HTTP 404" and "[redacted:HOOK_URL]" in outcome.detail["response_excerpt"]
    basic = base64.b64encode(f"hook:{SLACK_TOKEN}".encode()).decode()
    for piece in (SLACK_TOKEN, SLACK_TOKEN[::-1], "T0PLANT01", "B0PLANT02", basic):
        assert piece not in stored, (piece, stored)
    assert outcome.slo == "services-availability"  # an ordinary path segment ("services") is left alone


def test_a_secret_straddling_the_stored_excerpt_is_redacted_before_the_cut(tmp_path):
    # The page repeats the whole URL, its token starting 10 characters before the stored excerpt ends:
    # cutting before redacting kept the URL's head, the token's first 10 characters included.
    handler = type("Echo", (_Echo,), {"echo": staticmethod(lambda h: f"http://{h.headers['Host']}{h.path}")})
    httpd, host = _serve(handler)
    handler.filler = A.EXCERPT_CHARS - 10 - len(f"<h1>Not Found</h1><p>no hook at http://{host}/hooks/")
    try:
        action = _only_action(_runbook(tmp_path, "    - {kind: webhook, name: hook, url_env: HOOK_URL}\n"))
        outcome = A.carry_out(action, ENTRY, "2026-02", "k", [], execute=True, env={"HOOK_URL": f"http://{host}/hooks/{SLACK_TOKEN}"})
    finally:
        httpd.shutdown()
    stored = outcome.model_dump_json()
    assert len(outcome.detail["response_excerpt"]) <= A.EXCERPT_CHARS and "[redacted:HOOK_URL]" in outcome.detail["response_excerpt"]
    assert all(SLACK_TOKEN[i:i + 6] not in stored for i in range(len(SLACK_TOKEN) - 5)), stored


def test_secret_pieces_of_a_url_and_of_an_authorization_value():
    url = "https://user:pw@hooks.example.com/services/T024BE7LD/B01234ABC/AbCdEfGhIjKlMnOpQrStUvWx?token=q%2Fs3cret9&v=2"
    pieces = A.secret_pieces(url)
    assert {url, "/services/T024BE7LD/B01234ABC/AbCdEfGhIjKlMnOpQrStUvWx", "T024BE7LD/B01234ABC/AbCdEfGhIjKlMnOpQrStUvWx",
            "T024BE7LD", "AbCdEfGhIjKlMnOpQrStUvWx", "q%2Fs3cret9", "q/s3cret9", "pw", "dXNlcjpwdw=="} <= pieces
    assert not {"services", "/services", "hooks.example.com", "2", "user"} & pieces
    assert A.secret_pieces("Bearer tok-123") == {"Bearer tok-123", "tok-123"}
    assert A.secret_pieces("plain-token") == {"plain-token"}
    assert A.redact("sent to services/x: T024BE7LD", {"URL": url}) == "sent to services/x: [redacted:URL]"


# The deadline holds when the answer is read to the connection's close ---------------------------

class _CloseTrickler:
    """Answers one request with headers and no length (HTTP/1.0, or `Connection: close`), then one
    byte every 0.5 s for 20 s: the body ends only when the connection closes."""

    def __init__(self, status_line: bytes):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.status_line = status_line
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/slow"

    def _run(self):
        self.sock.settimeout(20)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            started = time.monotonic()
            try:
                conn.recv(65536)
                conn.sendall(self.status_line + b"\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n")
                while not self.stop.is_set() and time.monotonic() - started < 20:
                    conn.sendall(b"x")
                    self.stop.wait(0.5)
            except OSError:
                return

    def close(self):
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.mark.parametrize("status_line", [b"HTTP/1.0 200 OK", b"HTTP/1.1 200 OK"])
def test_a_body_trickled_until_the_connection_closes_is_cut_at_the_deadline(tmp_path, status_line):
    server = _CloseTrickler(status_line)
    action = _only_action(_runbook(tmp_path, "    - {kind: webhook, name: slow, url_env: HOOK_URL, timeout: 2s}\n"))
    try:
        started = time.monotonic()
        outcome = A.carry_out(action, ENTRY, "2026-02", "k", [], execute=True, env={"HOOK_URL": server.url})
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert elapsed < 3.0, elapsed
    assert outcome.status == "failed" and outcome.reason.startswith("Timeout (2 s for the whole attempt)")
