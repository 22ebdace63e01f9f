"""The loader's schema of each kind, checked by jsonschema, and the messages its errors read as.

Why not the official OpenSLO v1 schema as it is: it refuses what the loader deliberately accepts (a
composite SLO's objectives without a spec-level indicator, `RatioTimeslices`, several `timeWindow`
items, an optional `counter`, alert policies without `notificationTargets`, a calendar window
without `calendar`, durations in seconds), and it lets every typo pass (no `additionalProperties:
false`). So a kind's schema is derived from it when first used: each object takes the property
names the official schema gives it (through `$ref`, `allOf`, `oneOf`, `if`/`then`) and refuses any
other key, and schemas/overlay.yaml adds what the loader reads there (types, required keys, rules,
our extensions, each marked; BudgetAdjustment, a v2alpha kind the shipped v1 schema has no place
for). The official constraints are not copied: the overlay states what is read.

jsonschema's own error texts are not shown: a message is made from the failing node and the value
through `shown()` (bounded), and the YAML loader bounds what a value can expand to (safe_yaml)."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft7Validator, FormatChecker, ValidationError, validators
from jsonschema.protocols import Validator

from slo_assets.core.durations import DurationError, duration_days, duration_minutes, parse_duration
from slo_assets.core.safe_yaml import shown
from slo_assets.openslo import official_registry
from slo_assets.openslo.adjustments import instant
from slo_assets.warehouse import canonical

KINDS = ("SLO", "SLI", "AlertPolicy", "AlertCondition", "Service", "DataSource", "AlertNotificationTarget", "BudgetAdjustment")
API_V1 = "openslo/v1"
API_V2ALPHA = "openslo.com/v2alpha"  # BudgetAdjustment exists in OpenSLO's v2alpha only
# Filters may name every canonical column but the time and the line number, typed as the column is.
FILTER_FIELDS = {c.name: c.python_type for c in canonical.PARSED_LOGS.columns if c.name not in ("ts", "source_line")}
FILTER_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "regex")
# A month partition reads its own days and the previous month's (error_budgets' partition mapping),
# so a rolling window ending at the month end can reach back at most 28 days plus that month.
MAX_ROLLING_DAYS = 31


def rolling_days(text: Any) -> int:
    """A rolling window's length: whole days, up to MAX_ROLLING_DAYS."""
    try:
        days = duration_days(text)
    except DurationError:
        days = MAX_ROLLING_DAYS + 1
    if days > MAX_ROLLING_DAYS:
        raise ValueError(f"{shown(text)}: rolling windows are whole days up to {MAX_ROLLING_DAYS}d, like 7d, 28d, 30d")
    return days


def slice_minutes(window: Any) -> int:
    """timeSliceWindow as whole minutes: a duration like 5m, or a number of seconds."""
    if isinstance(window, bool) or not isinstance(window, str | int | float):
        raise ValueError(f"{shown(window)} is not a duration like 1m or a number of seconds")
    if isinstance(window, str):
        return duration_minutes(window)
    if not math.isfinite(window) or window <= 0 or window % 60:
        raise ValueError(f"{shown(window)} seconds is not a whole number of minutes")
    return int(window) // 60


def _format(read: Callable[[Any], Any]) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        read(value)
        return True
    return check


# The overlay's `format`s: a value passes when its reader takes it, else the reader's error is the
# message (a value of another type than the node's also fails its type, whose message is the one shown).
FORMATS = FormatChecker(formats=())
for _name, _reader in (("minutes", duration_minutes), ("duration", parse_duration), ("instant", instant),
                       ("rolling-days", rolling_days), ("slice-minutes", slice_minutes)):
    FORMATS.checks(_name, raises=(ValueError, TypeError, AttributeError, OverflowError))(_format(_reader))


def _finite_number(checker: Any, instance: Any) -> bool:
    """A number is finite here: .inf and .nan are no measure of anything."""
    return bool(Draft7Validator.TYPE_CHECKER.is_type(instance, "number")) and not (isinstance(instance, float) and not math.isfinite(instance))


_Loader = validators.extend(Draft7Validator, type_checker=Draft7Validator.TYPE_CHECKER.redefine("number", _finite_number))


@cache
def overlay() -> dict[str, Any]:
    """schemas/overlay.yaml: ours, shipped with the package (its anchors share a node between kinds)."""
    text = (resources.files("slo_assets.openslo") / "schemas" / "overlay.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


Found = tuple[Any, Any]  # an official schema node and the referencing.Resolver of its $refs


def _flatten(found: Iterable[Found]) -> list[Found]:
    """The official nodes that describe one instance: these, their $ref targets and their subschemas."""
    nodes: list[Found] = []
    for contents, resolver in found:
        if isinstance(contents, dict):
            nodes.append((contents, resolver))
            if "$ref" in contents:
                target = resolver.lookup(contents["$ref"])
                nodes += _flatten([(target.contents, target.resolver)])
            subschemas = [*contents.get("allOf", []), *contents.get("anyOf", []), *contents.get("oneOf", []),
                          *(contents[key] for key in ("if", "then", "else", "not") if key in contents)]
            nodes += _flatten((sub, resolver) for sub in subschemas)
    return nodes


def _derive(ours: dict[str, Any], official: list[Found], where: str) -> dict[str, Any]:
    """Our node with the official nodes' vocabulary: the properties they name (ours typed) and no other key."""
    if "x-official" in ours:  # the overlay points at the official node that describes this one
        resolved = [official_registry()[1].resolver().lookup(ours["x-official"])] if ours["x-official"] else []
        official = [(r.contents, r.resolver) for r in resolved]
    nodes = _flatten(official)
    theirs: dict[str, list[Found]] = {}
    for contents, resolver in nodes:
        for key, sub in contents.get("properties", {}).items():
            theirs.setdefault(key, []).append((sub, resolver))
    mine = ours.get("properties", {})
    if "x-fields" in ours:  # one node for every filter field
        mine = {name: ours["x-fields"] for name in FILTER_FIELDS}
    strange = [key for key, sub in mine.items() if theirs and key not in theirs and not sub.get("x-extension")]
    clash = {c["type"] for c, _ in nodes if isinstance(c.get("type"), str)} - {ours["type"]} if isinstance(ours.get("type"), str) else set()
    if strange or clash:  # an error of the overlay, not of a spec: it stops the loader
        raise ValueError(f"overlay.yaml {where}: {strange or clash} disagrees with the OpenSLO v1 schema (an extension is marked)")
    derived = {key: value for key, value in ours.items() if key not in ("x-official", "x-fields")}
    if theirs or mine:
        keys = [*theirs, *(key for key in mine if key not in theirs)]
        derived["properties"] = {key: _derive(mine.get(key, {}), theirs.get(key, []), f"{where}.{key}") for key in keys}
    if theirs:  # where the official schema names the keys; the overlay says so of its own objects
        derived["additionalProperties"] = False
    items = [(c["items"], r) for c, r in nodes if isinstance(c.get("items"), dict)]
    if items or "items" in ours:
        derived["items"] = _derive(ours.get("items", {}), items, f"{where}[]")
    for key in ("then", "else"):  # our conditions: their nodes may hold the filter's fields
        if key in ours:
            derived[key] = _derive(ours[key], [], f"{where}.{key}")
    if "allOf" in ours:
        derived["allOf"] = [_derive(sub, [], f"{where}.allOf") for sub in ours["allOf"]]
    return derived


@cache
def validator(kind: str) -> Validator:
    """The loader's validator of a document of `kind`: one of KINDS, "document" (any kind: its keys) or
    "threshold" (a throughput objective)."""
    if kind == "threshold":
        schema: Validator = _Loader(overlay()["threshold"], format_checker=FORMATS)
        return schema
    root, registry = official_registry()
    resolver = registry.resolver()
    branches = [b for b in root["allOf"][1]["oneOf"] if b["allOf"][0]["properties"]["kind"]["const"] == kind]
    official = [(root["allOf"][0], resolver), *((branch, resolver) for branch in branches)]
    schema = _Loader(_derive(overlay()["kinds"].get(kind, {}), official, kind), format_checker=FORMATS)  # "document": {}
    return schema


def did_you_mean(word: str, known: Iterable[Any]) -> str:
    """'; did you mean X?' for the closest known word, else '; expected one of ...'."""
    known = [str(k) for k in known]
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else f"; expected one of {', '.join(known)}"


_EXPONENT = re.compile(r"[-+]?[0-9.]+e[-+]?[0-9]+")
_TYPE_NAMES = {"object": "dict", "array": "list", "string": "str", "boolean": "bool", "number": "a number"}


def _message(error: ValidationError) -> str:
    node, keyword, value = error.schema, error.validator, error.instance
    template = node.get("x-msg", {}).get(keyword) if isinstance(node, dict) else None
    if template:
        suggest = did_you_mean(str(value), error.validator_value) if "{suggest}" in template else ""
        return str(template).replace("{value}", shown(value)).replace("{suggest}", suggest)
    if keyword == "format":
        return str(error.cause)
    kind = node.get("type") if keyword == "type" and isinstance(node.get("type"), str) else None
    if kind == "number" and isinstance(value, float):  # a float that is no number: .inf or .nan
        return f"must be a finite number, not {shown(value)}"
    if kind in _TYPE_NAMES:
        hint = " (YAML reads 1e3 as text: write 1.0e3)" if kind == "number" and isinstance(value, str) and _EXPONENT.fullmatch(value) else ""
        return f"must be {_TYPE_NAMES[kind]}, not {type(value).__name__} {shown(value)}{hint}"
    return f"{shown(value)} does not pass {keyword}"


def field_path(instance: Any, path: Iterable[Any]) -> str:
    """A path as messages give it: spec.objectives[0].target (a list's index in brackets)."""
    text, node = "", instance
    for part in path:
        text += f"[{part}]" if isinstance(node, list) else f".{part}" if text else str(part)
        node = node[part] if isinstance(node, list) or (isinstance(node, dict) and part in node) else None
    return text


def problems(checker: Validator, instance: Any, base: str = "") -> list[tuple[str, str]]:
    """(field path, message) of each error of `instance`, once, in the schema's order. A value of the
    wrong type gets the type's message alone; an unknown or missing key is named in the path."""
    errors = list(checker.iter_errors(instance))
    mistyped = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    at = {base: instance} if base else instance  # a part checked alone (at `base`) is placed as in its document
    found = []
    for error in errors:
        path = [*([base] if base else []), *error.absolute_path]
        if error.validator == "additionalProperties":
            allowed = error.schema.get("properties", {})
            noun = error.schema.get("x-unknown", "unknown field")
            found += [(field_path(at, [*path, key]), f"{noun} {key}{did_you_mean(str(key), allowed)}")
                      for key in error.instance if key not in allowed]
        elif error.validator == "dependencies":  # a key that needs others: named in the path, the others in the message
            found += [(field_path(at, [*path, key]), f"needs {other} too") for key, others in error.validator_value.items()
                      if key in error.instance for other in others if other not in error.instance]
        elif error.validator == "required":
            missing = [key for key in error.validator_value if key not in error.instance]
            found += [(field_path(at, [*path, key]), error.schema.get("properties", {}).get(key, {}).get("x-missing", "is required"))
                      for key in missing]
        elif error.validator == "type" or tuple(error.absolute_path) not in mistyped:
            found.append((field_path(at, path), _message(error)))
    return list(dict.fromkeys(found))
