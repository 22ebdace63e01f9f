"""`slo-assets demo`: a generated sample month through `run`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from slo_assets.cli.common import _guarded, _log_month, _positive, _project_root
from slo_assets.cli.run import RunRequest, _print_summary, _run_month

DEMO_MONTH = "2026-10"


DEMO_EVENTS = 200_000


DEMO_SEED = 42


def _sample_is_current(logs: Path, month: str, events: int, seed: int) -> bool:
    truth = logs / "_truth.json"
    if not truth.exists():
        return False
    recorded = json.loads(truth.read_text())
    return (recorded.get("month"), recorded.get("events"), recorded.get("seed")) == (month, events, seed)


def cmd_demo(args: argparse.Namespace) -> int:
    from slo_assets.ingest.generate import write_logs

    root = _project_root()
    logs = root / "data" / "sample" / "logs"
    if not _sample_is_current(logs, args.month, args.events, DEMO_SEED):
        print(f"generating {args.events} sample requests for {args.month} in {logs} ...")
        write_logs(logs, args.month, args.events, "jsonl", DEMO_SEED, malformed_ratio=0.0005)
    else:
        print(f"using sample logs in {logs}")
    spec = root / "examples" / "slos.yaml"
    if not spec.exists():
        spec = Path(__file__).resolve().parents[2] / "examples" / "slos.yaml"
    print(f"materializing every asset for {args.month} (specs: {spec})", flush=True)
    request = RunRequest(month=args.month, logs=logs, specs=[spec], out=root / "out", warehouse=str(root / "data" / "warehouse"),
                         verbose=args.verbose)

    def body() -> int:
        outcome, documents, where = _run_month(request, root)
        _print_summary(outcome, documents, where, request)
        return 0

    return _guarded("demo", body)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """The command of this module and its arguments."""
    demo = commands.add_parser("demo", help="generate a sample month and materialize the asset graph for it")
    demo.add_argument("--month", type=_log_month, default=DEMO_MONTH)
    demo.add_argument("--events", type=_positive, default=DEMO_EVENTS)
    demo.add_argument("-v", "--verbose", action="store_true", help="print each run as it finishes")
    demo.set_defaults(func=cmd_demo)

