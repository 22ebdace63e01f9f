"""Reading spec files: YAML documents (bounded against alias bombs, timestamps kept as strings, a
repeated key refused), and the error collector of one document, whose messages read
`FILE: document N (KIND NAME): field.path: message`, documents counted from 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jsonschema.protocols import Validator

from slo_assets.core.errors import DefinitionError
from slo_assets.core.safe_yaml import GuardedSafeLoader, shown
from slo_assets.openslo.schema import problems


class SpecError(DefinitionError):
    """An invalid spec; `problems` lists 'file: document N (name): field.path: message' lines."""


class _StringTimestampLoader(GuardedSafeLoader):
    """Safe YAML bounded against alias bombs, but timestamps stay strings (OpenSLO's startTime is a string)."""


_StringTimestampLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    # PyYAML keeps the last of two equal keys silently; a repeated `target:` is a typo, not a choice.
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, str | int | float | bool) and key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, f"found duplicate key {shown(key)} (first on line {seen[key] + 1})",
                key_node.start_mark)
        if isinstance(key, str | int | float | bool):
            seen[key] = key_node.start_mark.line
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return mapping


_StringTimestampLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def yaml_stream(path: Path) -> list[Any]:
    """Every document of the file in order, empty ones as None (so document N is the Nth of the stream)."""
    with open(path, encoding="utf-8") as handle:
        return list(yaml.load_all(handle, Loader=_StringTimestampLoader))


def load_yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml_stream(path) if doc is not None]


def read_file(path: Path, problems: list[str]) -> tuple[bytes, list[Any]] | None:
    """The file's bytes and documents, or None with its problem added."""
    try:
        return path.read_bytes(), yaml_stream(path)
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        problems.append(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}")
    except yaml.YAMLError as exc:
        problems.append(f"{path}: invalid YAML: {' '.join(str(exc).split())}")
    return None


class Doc:
    """One document and its messages: they carry file, number (from 1), kind, name and field path.
    `checked` says the loader's schema passed (what the builders read has the types they expect);
    `errors` counts its problems (a document with any builds nothing)."""

    def __init__(self, path: Path, number: int, doc: Any, problems: list[str], warnings: list[str]) -> None:
        self.path, self.number, self.doc, self.problems, self.warnings = path, number, doc, problems, warnings
        metadata = doc.get("metadata") if isinstance(doc, dict) else None
        name = metadata.get("name") if isinstance(metadata, dict) else None
        kind = doc.get("kind") if isinstance(doc, dict) else None
        self.named = isinstance(name, str)  # a document without a name cannot be referred to
        self.name: str = name if isinstance(name, str) else "?"
        self.kind: str = kind if isinstance(kind, str) else "?"
        self.errors, self.checked = 0, False

    @property
    def place(self) -> str:
        return f"{self.path}: document {self.number}"

    @property
    def source(self) -> str:
        return f"{self.path.name}:{self.number}"

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.doc.get("spec") or {}
        return spec

    @property
    def annotations(self) -> dict[str, Any]:
        annotations: dict[str, Any] = self.doc["metadata"].get("annotations") or {}
        return annotations

    def error(self, field_path: str, message: str) -> None:
        self.errors += 1
        self.problems.append(f"{self.place} ({self.kind} {self.name}): {field_path}: {message}")

    def warn(self, field_path: str, message: str) -> None:
        self.warnings.append(f"{self.place} ({self.kind} {self.name}): {field_path}: {message}")

    def check(self, checker: Validator, instance: Any, base: str = "") -> bool:
        """Validate `instance` (at field path `base`) against a schema of the loader; True when it passes."""
        found = problems(checker, instance, base)
        for field_path, message in found:
            self.error(field_path, message)
        return not found
