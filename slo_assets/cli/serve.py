"""`slo-assets serve-metrics`: the month's exposition over HTTP for Prometheus to scrape."""

from __future__ import annotations

import argparse
import re
import sys

from slo_assets.cli.common import InputError, _guarded, _month, existing_warehouse, warehouse_option


def _port(value: str) -> int:
    """A TCP port, 0 (any free one, printed) to 65535."""
    if not re.fullmatch(r"\d{1,5}", value.strip()) or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, not {value!r}")
    return int(value)


def _month_or_current(value: str) -> str:
    return value if value == "current" else _month(value)


def cmd_serve_metrics(args: argparse.Namespace) -> int:
    """Serve a month's slo_metrics.prom on /metrics until SIGTERM or Ctrl-C."""
    def body() -> int:
        import signal
        import threading

        from prometheus_client import CollectorRegistry, start_http_server

        from slo_assets.core import clock
        from slo_assets.outputs.metrics_server import ExpositionCollector, is_loopback
        from slo_assets.warehouse import layout

        if not is_loopback(args.host) and not args.allow_remote:
            raise InputError(f"--host {args.host}: not a loopback address; the exposition has no authentication, so "
                             "binding other interfaces needs --allow-remote (or keep 127.0.0.1 behind a proxy)")
        store = existing_warehouse(args.warehouse)
        fixed = None if args.month == "current" else args.month

        def locate() -> tuple[str, object]:
            month = fixed or clock.today().strftime("%Y-%m")  # the running month, again at each scrape
            return month, layout.PROMETHEUS_EXPOSITION.path(store, month)

        month, path = locate()
        if fixed and not path.exists():
            raise InputError(f"--month {fixed}: no exposition in --warehouse {args.warehouse} ({path}): materialize the "
                             "month first (slo-assets run, or the prometheus_exposition asset)")
        registry = CollectorRegistry()  # only the exposition: no process or Python metrics of this server
        registry.register(ExpositionCollector(locate, notify=lambda message: print(message, file=sys.stderr, flush=True)))
        try:
            server, _ = start_http_server(args.port, addr=args.host, registry=registry)
        except OSError as error:
            raise InputError(f"--port {args.port}: cannot listen on {args.host} ({error.strerror or error}); another "
                             "exporter there? choose another --port") from None
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda number, frame: stop.set())
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"serving {month if fixed else 'the running month'} on http://{host}:{server.server_port}/metrics "
              "(SIGTERM or Ctrl-C stops)", flush=True)
        while not stop.wait(0.5):
            pass
        server.shutdown()
        server.server_close()
        print("slo-assets serve-metrics: stopped", file=sys.stderr)
        return 0

    return _guarded("serve-metrics", body)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """The command of this module and its arguments."""
    serve = commands.add_parser("serve-metrics", help="serve a month's slo_metrics.prom on /metrics for Prometheus to scrape "
                                                      "(re-read at each scrape), with slo_assets_exposition_age_seconds")
    warehouse_option(serve, "the warehouse the month is materialized into")
    serve.add_argument("--month", type=_month_or_current, default="current",
                       help="YYYY-MM, or current (default): the running month, followed across month ends")
    serve.add_argument("--port", type=_port, default=9464, help="TCP port (default 9464; 0 picks a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1; others need --allow-remote)")
    serve.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    serve.set_defaults(func=cmd_serve_metrics)
