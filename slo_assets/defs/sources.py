"""Log sources: several folders of logs in one instance, each its own asset family.

A source is a folder of logs with its format, service mapping and specs, and its own warehouse. The
code location holds the default source (its environment's: SLO_ASSETS_LOG_DIR, SLO_ASSETS_WAREHOUSE,
unprefixed keys, the project's demo) and one asset family per registered source: the same assets,
checks and jobs under the key prefix and group of the source's name (`apache/parsed_logs`, job
`apache__monthly_chain_job`), with their own partitions, which follow that source's data. A source's
runs never touch another's assets, versions, staleness or warehouse.

Why a family per source, and not a day x source multi-partition or a code location per source:
each source's partitions follow its own data (a 2015 sample and a live log in one instance: a shared
time dimension lists the decade between them for both), every key stays a plain day or month, and
one code location costs one process for the daemon and the UI, whose asset catalog filters by group.

The registry, `slo-sources.json` in the instance's home ($DAGSTER_HOME), is the one place sources
are declared: `slo-assets run` records the source it runs (`--source NAME`, default the logs folder's
own name) with its options, and the code location reads it when it loads. Its entries may be edited
or removed by hand; a bad entry is named in one line.

The resources are shared by every family: a run's source is known from the run (its job's
`slo_assets/source` tag, or the key prefix of the assets it materializes) and each resource then acts
as that source's (SourceScoped.setup_for_execution), so the asset code is the same for every source.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import dagster as dg
from pydantic import BaseModel, ConfigDict, ValidationError

from slo_assets.core.clock import SettingError

SOURCE_TAG = "slo_assets/source"  # on every asset (its source's name) and on a registered source's jobs
DEFAULT_SOURCE = "default"  # the tag value of the default source's assets; never a registered name
REGISTRY_FILE = "slo-sources.json"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")


class SourceEntry(BaseModel):
    """One registered source: where its logs and warehouse are, how its lines are read, its SLOs."""

    model_config = ConfigDict(extra="forbid")

    name: str
    warehouse: str
    log_source: dict[str, object]  # the LogSource resource's fields for this source
    spec_paths: list[str]
    stage_dir: str = ""


def source_name(text: str) -> str:
    """A source's name from free text (a folder's name): lower case, [a-z0-9_], starting with a letter."""
    slug = re.sub(r"[^a-z0-9_]+", "_", text.strip().lower()).strip("_")
    slug = slug if not slug or slug[:1].isalpha() else f"s_{slug}"
    if not NAME_PATTERN.fullmatch(slug[:40] or "-") or slug == DEFAULT_SOURCE:
        raise SettingError(f"source name {text!r}: use letters, digits and _ (e.g. --source nginx)")
    return slug[:40]


def source_warehouse(warehouse: str, name: str) -> str:
    """A source's warehouse by default: `sources/<name>` under the instance's warehouse (a folder or URL)."""
    return f"{warehouse.rstrip('/')}/sources/{name}"


def registry_path(home: str | Path) -> Path:
    return Path(home) / REGISTRY_FILE


def read_registry(home: str | Path | None) -> dict[str, SourceEntry]:
    """The registered sources of the instance in `home`, by name; none without a home or a file."""
    if not home:
        return {}
    path = registry_path(home)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        entries = [SourceEntry.model_validate(item) for item in data.get("sources", [])]
    except (OSError, ValueError, AttributeError, ValidationError) as error:
        first = str(error).splitlines()[0][:200]
        raise SettingError(f"{path}: not a source registry ({first}); fix or remove the entry") from error
    for entry in entries:
        if not NAME_PATTERN.fullmatch(entry.name) or entry.name == DEFAULT_SOURCE:
            raise SettingError(f"{path}: source name {entry.name!r}: use letters, digits and _, starting with a letter")
    return {entry.name: entry for entry in entries}


def _published(home: str | Path) -> dict[str, str]:
    """Each OUT/YYYY-MM folder `run` wrote (absolute path) -> the source whose outputs it holds."""
    path = registry_path(home)
    try:
        found = json.loads(path.read_text()).get("published", {}) if path.exists() else {}
    except (OSError, ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _write(home: str | Path, sources: Mapping[str, SourceEntry], published: Mapping[str, str]) -> None:
    """The registry, atomically (a concurrent reader sees the old or the new file)."""
    path = registry_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"sources": [sources[name].model_dump() for name in sorted(sources)], "published": dict(sorted(published.items()))},
                      indent=2, sort_keys=True) + "\n"
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{REGISTRY_FILE}.")
    with os.fdopen(handle, "w") as out:
        out.write(text)
    os.replace(temporary, path)


def record_source(home: str | Path, entry: SourceEntry) -> None:
    """Add or replace `entry` in the registry."""
    sources = read_registry(home)
    sources[entry.name] = entry
    _write(home, sources, _published(home))


def publisher_of(home: str | Path | None, folder: Path) -> str | None:
    """The source whose outputs `run` last wrote into `folder` (OUT/YYYY-MM), if any."""
    return _published(home).get(str(folder.resolve())) if home else None


def record_published(home: str | Path, folder: Path, name: str) -> None:
    """`folder` (OUT/YYYY-MM) holds the outputs of source `name` (DEFAULT_SOURCE for the default source's)."""
    published = _published(home)
    published[str(folder.resolve())] = name
    _write(home, read_registry(home), published)


def prefix_of(keys: Iterable[dg.AssetKey]) -> list[str]:
    """The source prefix of asset keys of one family ([] for the default source's)."""
    for key in keys:
        return list(key.path[:-1])
    return []


def sibling(context, name: str) -> dg.AssetKey:
    """The key `name` in the family of the asset or check `context` runs."""
    keys: list[dg.AssetKey] = []
    selected = getattr(context, "selected_asset_keys", None)
    if selected:
        keys = sorted(selected)
    else:
        checks = getattr(context, "selected_asset_check_keys", None) or getattr(context.op_execution_context, "selected_asset_check_keys", ())
        keys = sorted(check.asset_key for check in checks)
    return dg.AssetKey([*prefix_of(keys), name])


def run_source(run, names: Iterable[str]) -> str | None:
    """The registered source a run works for (None: the default source), from its tag or its keys."""
    if run is None:
        return None
    known = set(names)
    tagged = (run.tags or {}).get(SOURCE_TAG)
    if tagged:
        if tagged not in known:
            raise dg.Failure(f"log source {tagged!r} is not registered in {REGISTRY_FILE}: run it once with slo-assets run --source {tagged}")
        return tagged
    keys = set(run.asset_selection or ()) | {check.asset_key for check in (run.asset_check_selection or ())}
    found = {key.path[0] for key in keys if len(key.path) > 1 and key.path[0] in known}
    default = any(len(key.path) == 1 or key.path[0] not in known for key in keys)
    if len(found) + default > 1:
        raise dg.Failure("a run materializes the assets of one log source: select one source's group "
                         f"(sources in this run: {', '.join(sorted(found) + (['the default source'] if default else []))})")
    return next(iter(found), None)


def scoped_config(resource: dg.ConfigurableResource, entries: Mapping[str, Mapping[str, object]]) -> dict[str, str]:
    """`by_source` of a source-scoped resource: each source's own fields as JSON, over the resource's."""
    base = {key: value for key, value in resource.model_dump().items() if key != "by_source"}
    return {name: json.dumps({**base, **fields}, sort_keys=True) for name, fields in entries.items()}


def tag_source(assets: list, name: str) -> list:
    """The assets with their source's tag (what each source's jobs select)."""
    def tag(spec):
        return spec.merge_attributes(tags={SOURCE_TAG: name}) if isinstance(spec, dg.AssetSpec) else spec
    return list(dg.map_asset_specs(tag, assets))
