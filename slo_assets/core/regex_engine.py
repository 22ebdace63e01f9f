"""Regexes run in polars' (Rust) engine, which has no look-around and no back-references.

Python's `re` accepts patterns that polars rejects at evaluation time, so a pattern checked only with
`re` passes validation and then fails every day. This checks it in the engine that will run it.
"""

from __future__ import annotations

import polars as pl


def regex_problem(pattern: str) -> str | None:
    """None when polars can run `pattern`, else its reason in one line."""
    try:
        pl.Series("probe", [""], dtype=pl.String).str.contains(pattern)
    except Exception as error:  # polars raises ComputeError; any failure means the engine cannot run it
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        # the engine's own reason is the line starting "error:"; fall back to the first line
        detail = next((line[len("error:"):].strip() for line in lines if line.startswith("error:")),
                      lines[0] if lines else type(error).__name__)
        return f"polars' regex engine cannot run it: {detail} (no look-around or back-references)"
    return None
