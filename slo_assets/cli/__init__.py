"""The `slo-assets` command: a module per sub-command; main.py builds the parser."""

from slo_assets.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
