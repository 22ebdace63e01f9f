"""incident_reviews: one Markdown review draft per incident of a month's remediation plan
(slo_assets/remediation/incident_review.py builds them, slo_assets/outputs/incident_review.py writes them)."""

import hashlib
from pathlib import Path

import dagster as dg

from slo_assets.core.calendar import iso, month_days
from slo_assets.core.markdown import table
from slo_assets.defs.mappings import days_of_month
from slo_assets.defs.metadata import OWNERS
from slo_assets.defs.partitions import MONTHLY
from slo_assets.defs.remediation.assets import _bad_rows
from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource
from slo_assets.defs.warehouse_io import read_days, read_frame, required_file, written
from slo_assets.outputs.incident_review import render
from slo_assets.remediation.incident_review import build_reviews
from slo_assets.remediation.models import RemediationPlan, outcomes_from_rows
from slo_assets.slo.chain import by_slo
from slo_assets.slo.evaluation import load_evaluations
from slo_assets.slo.sli import MINUTE_SCHEMA
from slo_assets.warehouse import layout

INCIDENT_REVIEWS_CODE_VERSION = "incident-reviews-1"


@dg.asset(
    group_name="remediation",
    partitions_def=MONTHLY,
    # the runs and the learning record when there are any: the drafts are written again after the remediation job
    deps=["remediation_plan", "window_evaluations", days_of_month("sli_minutely"), days_of_month("parsed_logs"),
          "remediation_runs", "learning_record"],
    kinds={"markdown"},
    code_version=INCIDENT_REVIEWS_CODE_VERSION,
    owners=OWNERS,
)
def incident_reviews(context: dg.AssetExecutionContext, warehouse: WarehouseResource, slo_settings: SloSettings,
                     log_source: LogSource) -> dg.MaterializeResult:
    """A post-incident review draft per incident (Markdown): timeline, impact, where it failed, actions and open questions."""
    month = context.partition_key
    store = warehouse.store()
    plan = RemediationPlan.model_validate_json(required_file(store, layout.REMEDIATION_PLAN, month).read_bytes())
    evaluations_path = required_file(store, layout.WINDOW_EVALUATIONS, month)
    evaluations = load_evaluations(evaluations_path.read_bytes(), str(evaluations_path))
    specs = slo_settings.load()
    minutes, _ = read_days(store, layout.SLI_MINUTELY, month_days(month), MINUTE_SCHEMA)
    runs = read_frame(store, layout.REMEDIATION_RUNS, month)
    learning = read_frame(store, layout.LEARNING_RECORD, month)
    data_end = max((e.window_end_ms for e in evaluations), default=0)
    reviews = build_reviews(month, specs.slos, evaluations, plan, by_slo(minutes), _bad_rows(store, specs.slos), Path(log_source.active().root),
                            outcomes_from_rows(runs.to_dicts()) if runs is not None else [], learning.to_dicts() if learning is not None else [],
                            data_end)
    payloads = {r.incident_id: render(r).encode() for r in reviews}
    for name, payload in payloads.items():
        store.write_bytes_atomic(layout.INCIDENT_REVIEWS.path(store, month, name), payload)
    stale = [name for name in layout.INCIDENT_REVIEWS.members(store, month) if name not in payloads]
    for name in stale:  # an incident gone since the last run (a changed spec or late data) keeps no draft
        layout.INCIDENT_REVIEWS.path(store, month, name).unlink()
    digest = hashlib.sha256(b"".join(name.encode() + b"\0" + payloads[name] for name in sorted(payloads))).hexdigest()[:24]
    rows = [(r.incident_id, iso(r.first_bad_ms), r.detection_minutes, iso(r.recovered_ms) if r.recovered_ms is not None else "not yet",
             r.bad_events, r.clients_text, len(r.questions)) for r in reviews]
    summary = (table(["draft", "first bad minute", "detected after (min)", "recovered", "bad requests", "clients", "open questions"], rows)
               if rows else f"no incident in {month}: no draft written")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(digest),
        metadata={
            "dagster/row_count": len(reviews),
            **written(store, layout.INCIDENT_REVIEWS, month, sum(len(p) for p in payloads.values())),
            "drafts": len(reviews),
            "removed_stale_drafts": len(stale),
            "reviews": dg.MetadataValue.md(summary),
        },
    )
