"""Command actions: argv, process group, environment.

Commands run as argument lists without a shell, in their own process group (killed whole on
timeout), in a working directory inside the allowed root, with an environment built from an
allow-list; a value from the logs never chooses the program and never becomes an option
(`argv_for`). What a command writes is redacted before it is cut and stored.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from slo_assets.remediation.attempts import FAILED, OK, TryAgain, with_retries
from slo_assets.remediation.models import CommandAction, Delivery, PlanEntry
from slo_assets.remediation.redaction import redact
from slo_assets.remediation.runbooks import Action, inside_root

OUTPUT_CHARS = 2000


class UnsafeValue(ValueError):
    """A mapped value from the logs that could change what the command does; nothing runs."""


def argv_for(command: CommandAction, entry: PlanEntry) -> list[str]:
    """The command's argv; a mapped placeholder becomes exactly one argument holding the field's value.
    The program (argv[0]) is never mapped: load_runbooks refuses that, and so does this for an
    Action built in code. A value starting with '-' would be read as an option: refused (default),
    or, with `values_after: "--"`, every mapped value comes after a '--' that ends the options."""
    first = entry.incidents[0] if entry.incidents else None
    fields = {
        "service": entry.service, "slo": entry.slo, "status": entry.status,
        "incident_start": first.start if first else "", "incident_end": first.end if first else "",
        "top_operation": first.top_operations[0].operation if first and first.top_operations else "",
    }
    mapping = command.map_fields
    program = command.argv[0]
    if any(key and key in program for key in mapping):
        raise UnsafeValue(f"the program {program!r} holds a placeholder: a value from the logs would choose what runs; refused")
    after_dashes = command.values_after == "--"
    argv: list[str] = []
    for arg in command.argv:
        if arg not in mapping:
            argv.append(arg)
            continue
        value = str(fields[mapping[arg]])
        if "\0" in value:
            raise UnsafeValue(f"field {mapping[arg]} ({arg}) holds a NUL byte; refused")
        if value.startswith("-") and not after_dashes:
            raise UnsafeValue(f"field {mapping[arg]} ({arg}) starts with '-' and would be read as an option; refused "
                              f"(set values_after: \"--\" to pass it after '--')")
        if after_dashes and "--" not in argv:
            argv.append("--")
        argv.append(value)
    return argv


def _kill_group(process: subprocess.Popen) -> tuple[bytes, bytes]:
    """Kill the command and everything it started (its own session), then collect what it wrote."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        return process.communicate(timeout=2)
    except subprocess.TimeoutExpired:  # a descendant left the group and holds the pipes open
        for stream in (process.stdout, process.stderr):
            stream.close()
        process.wait()
        return b"", b""


def _tail(output: bytes, secrets: Mapping[str, str]) -> str:
    # Redact before cutting, so the cut never keeps a piece of a secret.
    return redact(output.decode("utf-8", "replace"), secrets)[-OUTPUT_CHARS:]


def run_command(action: Action, argv: list[str], env: Mapping[str, str], secrets: Mapping[str, str]) -> Delivery:
    if action.cwd_root is not None:
        cwd = action.cwd or action.cwd_root
        if not inside_root(Path(cwd), Path(action.cwd_root)):  # checked at load; a symlink may have changed since
            return Delivery(status=FAILED, reason=f"cwd {cwd} is outside the allowed root {action.cwd_root}", detail={"argv": argv})
    elif action.spec_as(CommandAction).cwd:
        return Delivery(status=FAILED, reason="cwd is set but no allowed root is known (load the runbook with load_runbooks)",
                        detail={"argv": argv})
    else:
        cwd = None
    allowed = {name: env[name] for name in action.env_names() if name in env}

    def attempt_once(attempt: int) -> Delivery | TryAgain:
        try:
            process = subprocess.Popen(argv, shell=False, cwd=cwd, env=allowed, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            return Delivery(status=FAILED, reason=f"cannot start {argv[0]!r}: {exc.strerror}", attempts=attempt, detail={"argv": argv})
        except ValueError as exc:  # e.g. a NUL byte in a fixed argument
            return Delivery(status=FAILED, reason=f"cannot start {argv[0]!r}: {exc}", attempts=attempt, detail={"argv": argv})
        try:
            stdout, stderr = process.communicate(timeout=action.timeout_s)
        except subprocess.TimeoutExpired:
            stdout, stderr = _kill_group(process)
            return TryAgain(f"timed out after {action.timeout_s:g} s; its process group was killed",
                            {"argv": argv, "stdout": _tail(stdout, secrets), "stderr": _tail(stderr, secrets)})
        detail = {"argv": argv, "exit_code": process.returncode, "stdout": _tail(stdout, secrets), "stderr": _tail(stderr, secrets)}
        if process.returncode == 0:
            return Delivery(status=OK, attempts=attempt, detail=detail)
        return TryAgain(f"exit code {process.returncode}", detail)

    return with_retries(action, attempt_once)
