"""Dagster objects only: partitions, resources, assets with their checks, jobs. Logic lives in slo_assets.*."""
