"""Log sources (defs/sources.py): names, the registry, and which source a run works for."""

from __future__ import annotations

from types import SimpleNamespace

import dagster as dg
import pytest

from slo_assets.core.clock import SettingError
from slo_assets.defs.sources import SOURCE_TAG, SourceEntry, read_registry, record_source, registry_path, run_source, source_name


def test_a_source_is_named_after_its_folder_in_letters_digits_and_underscores():
    assert source_name("nginx") == "nginx"
    assert source_name("Ingress-NGINX 2020") == "ingress_nginx_2020"
    assert source_name("2015-logs") == "s_2015_logs"
    for bad in ("", "---", "default"):
        with pytest.raises(SettingError, match="source name"):
            source_name(bad)


def test_the_registry_keeps_one_entry_per_source_and_names_a_bad_file(tmp_path):
    entry = SourceEntry(name="apache", warehouse="/w/apache", log_source={"root": "/logs/apache"}, spec_paths=["/s.yaml"])
    record_source(tmp_path, entry)
    record_source(tmp_path, entry.model_copy(update={"warehouse": "/w/other"}))
    record_source(tmp_path, SourceEntry(name="nginx", warehouse="/w/nginx", log_source={}, spec_paths=[]))
    found = read_registry(tmp_path)
    assert sorted(found) == ["apache", "nginx"] and found["apache"].warehouse == "/w/other"
    assert read_registry(None) == {} and read_registry(tmp_path / "nowhere") == {}
    registry_path(tmp_path).write_text('{"sources": [{"name": "x", "surprise": 1}]}')
    with pytest.raises(SettingError, match="slo-sources.json: not a source registry"):
        read_registry(tmp_path)


def _run(tags=None, assets=(), checks=()):
    return SimpleNamespace(tags=tags or {}, asset_selection=frozenset(assets), asset_check_selection=frozenset(checks))


def test_a_run_works_for_the_source_of_its_job_or_of_its_assets():
    names = ["apache", "nginx"]
    assert run_source(None, names) is None
    assert run_source(_run({SOURCE_TAG: "nginx"}), names) == "nginx"
    assert run_source(_run(assets=[dg.AssetKey(["apache", "parsed_logs"])]), names) == "apache"
    assert run_source(_run(assets=[dg.AssetKey("parsed_logs")]), names) is None  # the default source
    check = dg.AssetCheckKey(dg.AssetKey(["nginx", "alert_rules"]), "rules_agree_with_replay")
    assert run_source(_run(checks=[check]), names) == "nginx"
    with pytest.raises(dg.Failure, match="a run materializes the assets of one log source"):
        run_source(_run(assets=[dg.AssetKey(["apache", "parsed_logs"]), dg.AssetKey(["nginx", "parsed_logs"])]), names)
    with pytest.raises(dg.Failure, match="not registered"):
        run_source(_run({SOURCE_TAG: "gone"}), names)
