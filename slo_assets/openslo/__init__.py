"""The official OpenSLO v1 JSON Schemas (Apache-2.0, LICENSE.OpenSLO beside this file), shipped with the
package so the validator and the tests read one copy, wherever the package is installed."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import SchemaRegistry

SCHEMA_VERSION = "v1"
ROOT_SCHEMA = "openslo.schema.json"


def _schema_files() -> tuple[Traversable, list[Traversable]]:
    folder = resources.files(__name__) / "schemas" / SCHEMA_VERSION
    parts = sorted((p for p in (folder / "parts").iterdir() if p.name.endswith(".schema.json")), key=lambda p: p.name)
    return folder / ROOT_SCHEMA, parts


@cache
def official_registry() -> tuple[dict[str, Any], SchemaRegistry]:
    """The root schema and a registry of it and its parts by `$id`, read from the shipped files
    (never fetched): the schemas' `$id`s are https addresses, and no network is asked."""
    root, parts = _schema_files()
    schemas = [json.loads(path.read_text(encoding="utf-8")) for path in (root, *parts)]
    registry: SchemaRegistry = Registry().with_resources((schema["$id"], Resource.from_contents(schema)) for schema in schemas)
    return schemas[0], registry


@cache
def official_validator() -> Draft7Validator:
    """A Draft 7 validator of one OpenSLO v1 document, its `$ref`s resolved from the shipped parts."""
    root, registry = official_registry()
    return Draft7Validator(root, registry=registry)
