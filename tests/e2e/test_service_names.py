"""A request without a service name still counts, and `run` says how many had none: the real Apache log
read with a path regex whose group is empty for `GET /` and `GET /?flav=rss20` (576 of its 10,000 requests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.e2e.test_real_logs import AFTER_THE_LAST_LINE, REAL, real_logs


def test_run_says_how_many_requests_had_no_service_name(tmp_path):
    spec = tmp_path / "site.yaml"
    spec.write_text((REAL / "semicomplete.yaml").read_text())
    environment = {**os.environ, "DAGSTER_HOME": str(tmp_path / ".dagster_home"), "GX_ANALYTICS_ENABLED": "false",
                   "SLO_ASSETS_NOW": AFTER_THE_LAST_LINE}
    environment.pop("SLO_ASSETS_WAREHOUSE", None)
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(real_logs(tmp_path)), "--spec", str(spec),
                           "--month", "2015-05", "--out", str(tmp_path / "out"), "--service-regex", "^/(?P<service>[^/?]*)"],
                          capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10,000 rows, 0 quarantined" in done.stdout
    assert "576 rows without a service name (no service field, or a path the service regex does not match), counted as 'unknown'" \
        in done.stdout
    compliance = json.loads((tmp_path / "out" / "2015-05" / "compliance.json").read_text())
    month = next(e for e in compliance["slos"] if e["slo"] == "semicomplete-availability" and e["window"].startswith("1M"))
    assert month["total"] == 10_000  # the site-wide SLO counts the requests without a name
