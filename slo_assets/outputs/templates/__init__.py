"""The templates of the rendered outputs and their one Jinja2 environment: report.html (report.html.j2),
review.html (review.html.j2), both on _base.html.j2, and the incident review drafts (incident_review.md.j2).

The Python modules prepare typed view data (outputs/report.py, review_report.py, incident_review.py); the
templates lay it out. HTML templates autoescape: a value is text, escaped, unless it is markupsafe.Markup (the
SVG charts drawn in Python, a macro's output). Text is escaped as html.escape does (&quot; and &#x27; for the
quotes, the bytes the pages always had; markupsafe's own escape writes &#34; and &#39;), by the environment's
finalize: so a template prints values with {{ }} and macros only, never through a filter that escapes on its
own (join, replace, format, the ~ operator with Markup). Markdown is not HTML: the draft template does not
autoescape, its view data is Markdown already (outputs/incident_review.md escapes the data's text).

The environment is built on first use: importing this package reads no file."""

from __future__ import annotations

import html
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_eval_context, select_autoescape
from jinja2.nodes import EvalContext
from markupsafe import Markup


@pass_eval_context
def _finalize(context: EvalContext, value: Any) -> Any:
    """What {{ value }} prints: in an autoescaping template, text escaped as html.escape does and marked
    safe (markupsafe then leaves it as it is); Markup unchanged; anything in a Markdown template as it is."""
    if context.autoescape and not hasattr(value, "__html__"):
        return Markup(html.escape(str(value)))
    return value


@cache
def environment() -> Environment:
    """The templates' environment: HTML templates (*.html.j2) autoescape, Markdown ones (*.md.j2) do not,
    an undefined name is an error, and a block tag's line leaves nothing in the output."""
    return Environment(
        loader=PackageLoader("slo_assets.outputs", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), disabled_extensions=("md.j2",), default_for_string=True, default=True),
        undefined=StrictUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **context: Any) -> str:
    """The template `name` rendered with `context`."""
    return environment().get_template(name).render(**context)


def macro(template: str, name: str) -> Any:
    """A macro of a template of macros (one without output of its own), to call from Python."""
    return getattr(environment().get_template(template).module, name)
