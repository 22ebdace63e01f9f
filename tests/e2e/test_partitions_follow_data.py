"""The partitions follow the data, through `slo-assets run` then the UI's code location: the real Apache
log of May 2015, read on today's clock, shows its own month (31 days), not the 4,239 days and 140 months
from May 2015 to today the UI listed before."""

from __future__ import annotations

import re
import shlex

import dagster as dg

from slo_assets.definitions import build_definitions
from slo_assets.defs.settings import LocationSettings
from tests.e2e.test_real_logs import real_logs, run


def test_an_old_log_shows_its_own_month_in_the_ui(tmp_path):
    done = run(tmp_path, real_logs(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "outside the partitions" not in done.stdout
    command = next(line for line in done.stdout.splitlines() if " dev --target-path " in line)
    environment = dict(re.findall(r"(DAGSTER_HOME)=(\S+)", " ".join(shlex.split(command))))
    graph = build_definitions(settings=LocationSettings.from_environ(environment)).resolve_asset_graph()
    days = graph.get(dg.AssetKey(["logs", "parsed_logs"])).partitions_def  # the source named after its folder, logs/
    assert (days.get_first_partition_key(), days.get_last_partition_key(), days.get_num_partitions()) == ("2015-05-01", "2015-05-31", 31)
    assert graph.get(dg.AssetKey(["logs", "compliance_report"])).partitions_def.get_partition_keys() == ["2015-05"]
    assert graph.get(dg.AssetKey(["logs", "quarterly_review"])).partitions_def.get_partition_keys() == ["2015-04"]
