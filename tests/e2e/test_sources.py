"""Several log sources in one instance, through `slo-assets run` then the UI's code location: the real
Apache log of May 2015 and a generated JSON-lines month, each its own asset family, partitions,
warehouse and outputs; a second run of one never touches the other."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg

from slo_assets.definitions import build_definitions
from slo_assets.defs.settings import LocationSettings
from slo_assets.ingest.generate import write_logs

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "data" / "real"


def _run(tmp_path: Path, logs: Path, spec: Path, month: str, *extra: str, code: int = 0) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "GX_ANALYTICS_ENABLED": "false"}
    for name in ("SLO_ASSETS_NOW", "SLO_ASSETS_START_DATE", "SLO_ASSETS_WAREHOUSE"):
        environment.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(logs), "--spec", str(spec), "--month", month,
                           "--out", str(tmp_path / "out"), *extra], capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=600)
    assert done.returncode == code and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


def _latest(instance: dg.DagsterInstance, key: list[str]) -> int:
    records = instance.fetch_materializations(dg.AssetKey(key), limit=1).records
    return records[0].storage_id if records else -1


def test_two_sources_in_one_instance_never_touch_each_other(tmp_path):
    (tmp_path / "apache").mkdir()
    shutil.copy(REAL / "apache_logs", tmp_path / "apache" / "apache_logs")
    write_logs(tmp_path / "shop", "2026-10", 4_000, "jsonl", seed=7)
    _run(tmp_path, tmp_path / "apache", REAL / "semicomplete.yaml", "2015-05", "--service", "semicomplete")
    shop = _run(tmp_path, tmp_path / "shop", ROOT / "examples" / "slos.yaml", "2026-10")
    assert "this source's assets are the group shop (keys shop/...)" in shop.stdout
    registry = json.loads((tmp_path / "home" / "slo-sources.json").read_text())
    assert [entry["name"] for entry in registry["sources"]] == ["apache", "shop"]
    published = (tmp_path / "out" / "2026-10" / "compliance.json").read_bytes()
    other = _run(tmp_path, tmp_path / "shop", ROOT / "examples" / "slos.yaml", "2026-10", "--source", "shop2", code=2)
    assert f"holds source shop's outputs of 2026-10; give this source its own folder (e.g. --out {tmp_path / 'out' / 'shop2'})" \
        in other.stderr
    assert (tmp_path / "out" / "2026-10" / "compliance.json").read_bytes() == published
    warehouse = tmp_path / "data" / "warehouse" / "sources"
    report = warehouse / "apache" / "outputs" / "2015-05" / "report.html"
    before = report.read_bytes()

    home = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(tmp_path / "home")  # as `dg dev` loads the code location
    try:
        instance = dg.DagsterInstance.get()
        apache_days = _latest(instance, ["apache", "parsed_logs"])
        assert apache_days > 0 and _latest(instance, ["shop", "compliance_report"]) > 0
        assert _latest(instance, ["parsed_logs"]) == -1  # the default source (the demo's) untouched
        write_logs(tmp_path / "shop" / "more", "2026-10", 500, "jsonl", seed=8)  # a late file: the shop's days change
        _run(tmp_path, tmp_path / "shop", ROOT / "examples" / "slos.yaml", "2026-10")
        assert _latest(instance, ["apache", "parsed_logs"]) == apache_days and report.read_bytes() == before
        graph = build_definitions(settings=LocationSettings.from_environ({"DAGSTER_HOME": str(tmp_path / "home")})).resolve_asset_graph()
        apache = graph.get(dg.AssetKey(["apache", "parsed_logs"])).partitions_def
        assert (apache.get_first_partition_key(), apache.get_last_partition_key()) == ("2015-05-01", "2015-05-31")
        assert graph.get(dg.AssetKey(["shop", "compliance_report"])).partitions_def.get_first_partition_key() == "2026-10"
        assert graph.get(dg.AssetKey(["apache", "compliance_report"])).group_name == "apache"
        assert not graph.get(dg.AssetKey(["apache", "parsed_logs"])).parent_keys & {dg.AssetKey(["shop", "log_file_index"])}
    finally:
        if home is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = home
