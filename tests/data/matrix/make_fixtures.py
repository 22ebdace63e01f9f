"""Writes the small run-matrix logs (committed beside this script; run it again to regenerate them).

November 2026 in nginx combined format with a trailing request time: a few hundred requests of
the `site` service spread over the month, a burst of 5xx on the 12th, and a one-day-only folder."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent


def line(moment: datetime, path: str, status: int, seconds: float) -> str:
    stamp = moment.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return (f'10.0.0.{moment.minute % 250 + 1} - - [{stamp}] "GET {path} HTTP/1.1" {status} 512 "-" '
            f'"fixture/1.0" {seconds:.3f}')


def month_lines(rng: random.Random) -> list[str]:
    lines, start = [], datetime(2026, 11, 1, tzinfo=UTC)
    for day in range(30):
        for _ in range(12):
            moment = start + timedelta(days=day, seconds=rng.randrange(86_400))
            status = 503 if day == 11 and moment.hour in (9, 10) else rng.choice([200] * 60 + [404])
            lines.append((moment, line(moment, f"/site/page/{rng.randrange(40)}", status, rng.uniform(0.01, 0.4))))
    burst = datetime(2026, 11, 12, 9, 30, tzinfo=UTC)
    lines += [(burst + timedelta(seconds=7 * i), line(burst + timedelta(seconds=7 * i), "/site/cart", 503, 0.05)) for i in range(40)]
    return [text for _, text in sorted(lines)]


def one_day_lines(rng: random.Random) -> list[str]:
    start = datetime(2026, 11, 10, tzinfo=UTC)
    moments = sorted(start + timedelta(seconds=rng.randrange(86_400)) for _ in range(120))
    return [line(m, f"/site/page/{rng.randrange(40)}", 200, rng.uniform(0.01, 0.2)) for m in moments]


if __name__ == "__main__":
    rng = random.Random(20261101)
    for folder, lines in (("logs-month", month_lines(rng)), ("logs-one-day", one_day_lines(rng))):
        (HERE / folder).mkdir(exist_ok=True)
        (HERE / folder / "access.log").write_text("\n".join(lines) + "\n")
