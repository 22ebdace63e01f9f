"""A month's slo_metrics.prom served for Prometheus to scrape (`slo-assets serve-metrics`).

The collector reads the file at every scrape and parses it again only when its bytes changed, so a
refresh (live_outputs_sensor, `slo-assets run`) shows at the next scrape, with the textfile's own
samples. Two series of its own follow them, labelled with the month (`period`):

| metric | meaning |
| --- | --- |
| slo_assets_exposition_up | 1 when the month's file was read and parsed, else 0 (and no other sample) |
| slo_assets_exposition_age_seconds | seconds since the file was written (alert when it outgrows a few refresh intervals); absent when the store keeps no modification time |
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import time
from collections.abc import Callable

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

UP, AGE = "slo_assets_exposition_up", "slo_assets_exposition_age_seconds"


def is_loopback(host: str) -> bool:
    """Whether a listen address only takes connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ExpositionCollector:
    """The exposition of the month `locate` names now: (period, path). `now` is the clock (epoch seconds);
    `notify` hears each change of state, once: the file missing, unreadable or read again."""

    def __init__(self, locate: Callable[[], tuple[str, object]], now: Callable[[], float] = time.time,
                 notify: Callable[[str], None] = lambda message: None) -> None:
        self._locate, self._now, self._notify = locate, now, notify
        self._lock = threading.Lock()  # the HTTP server answers scrapes on threads
        self._digest: str | None = None
        self._families: list = []
        self._state = ""

    def _say(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self._notify(state)

    def _read(self, period: str, path) -> tuple[list, float | None] | None:
        """The parsed families and the file's modification time (None when unknown), or None when unusable."""
        try:
            payload = path.read_bytes()
            modified = path.stat().st_mtime or None  # an object store without the time says 0
        except FileNotFoundError:
            self._say(f"{period}: {path} does not exist (yet): serving {UP} 0")
            return None
        except OSError as error:
            self._say(f"{period}: {path}: cannot read ({error.strerror or error}): serving {UP} 0")
            return None
        digest = hashlib.sha256(payload).hexdigest()
        if digest != self._digest:
            try:
                families = list(text_string_to_metric_families(payload.decode()))
            except ValueError as error:  # UnicodeDecodeError is one
                self._say(f"{period}: {path} is not Prometheus text ({error}): serving {UP} 0")
                return None
            self._digest, self._families = digest, families
            self._say(f"{period}: serving {path} ({sum(len(f.samples) for f in families)} samples, sha256 {digest[:12]})")
        return self._families, modified

    def collect(self):
        period, path = self._locate()
        with self._lock:
            read = self._read(period, path)
        up = GaugeMetricFamily(UP, "1 when the month's slo_metrics.prom was read and parsed", labels=["period"])
        up.add_metric([period], 0.0 if read is None else 1.0)
        if read is None:
            yield up
            return
        families, modified = read
        yield from families
        yield up
        if modified is not None:
            age = GaugeMetricFamily(AGE, "Seconds since the month's slo_metrics.prom was written", labels=["period"])
            age.add_metric([period], max(0.0, self._now() - modified))
            yield age
