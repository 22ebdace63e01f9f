"""The one error type for invalid definitions (SLO specs, runbooks, the rules derived from specs)."""

from __future__ import annotations


class DefinitionError(ValueError):
    """An invalid definition file; `problems` lists one line each, as 'file: document N (name):
    field.path: message', so a user can go straight to what to fix."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))
