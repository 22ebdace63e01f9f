"""YAML from users' files (specs, runbooks), read so that a small hostile file cannot cost unbounded
memory or time, and values from it shown in messages at a bounded length.

An alias refers to an anchored node instead of copying it, so nine levels of nine aliases ("billion
laughs", under 1 KB) load as a small graph of shared objects. What expands it is the code that walks
the value: a validator, or an error message that formats the value (`{value!r}` of that file needed
about 25 GB). So `GuardedSafeLoader` measures, while composing, what each alias adds once expanded,
and refuses the document past a limit, an alias inside the node it names (a cycle), and nesting past
a depth Python's recursion can walk. Messages show values through `shown`.
"""

from __future__ import annotations

import reprlib
from typing import Any

import yaml

SHOWN_CHARACTERS = 80

_shown = reprlib.Repr()
_shown.maxstring = _shown.maxother = SHOWN_CHARACTERS
_shown.maxlevel = 3
_shown.maxlist = _shown.maxtuple = _shown.maxdict = _shown.maxset = 6


def shown(value: Any) -> str:
    """The value as a message shows it: repr() for what is short, abridged with '...' beyond that
    (at most twice SHOWN_CHARACTERS, however deep or wide the value)."""
    text = _shown.repr(value)
    half = SHOWN_CHARACTERS - 2
    return text if len(text) <= 2 * SHOWN_CHARACTERS else f"{text[:half]}...{text[-half:]}"


class HostileYamlError(yaml.YAMLError):  # type: ignore[misc]  # PyYAML ships no type hints
    """A document whose aliases expand past the loader's limit or hold themselves, or that nests too deep."""


class GuardedSafeLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    """yaml.SafeLoader that measures what aliases expand to while composing, before anything walks the value."""

    # Nodes a document's aliases may add by repeating what they name: a runbook repeats a few headers, a
    # spec of 1,000 SLOs sharing an anchored objective adds about 10,000; the bomb adds 9^9.
    max_alias_nodes = 100_000
    # Nesting a document may reach (a spec or runbook needs under 12): deeper, composing or printing it
    # recurses past Python's limit.
    max_depth = 64

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._documents = 0
        self._alias_nodes = 0
        self._measured: dict[int, tuple[int, int]] = {}
        self._open: list[str | None] = []

    def compose_document(self) -> Any:
        self._documents += 1
        self._alias_nodes = 0
        self._measured = {}
        self._open = []  # anchors of the nodes being composed: an alias to one of them is a cycle
        return super().compose_document()

    def _measure(self, node: yaml.Node) -> tuple[int, int]:
        """(nodes, depth) of a complete node, a shared node counted as often as it is reached; each node
        is measured once, so the cost is the file's, not its expansion's."""
        if id(node) not in self._measured:
            children = node.value if isinstance(node, yaml.SequenceNode) else \
                [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else []
            measures = [self._measure(child) for child in children]
            self._measured[id(node)] = (1 + sum(m[0] for m in measures), 1 + max((m[1] for m in measures), default=0))
        return self._measured[id(node)]

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        where = f"line {event.start_mark.line + 1}: document {self._documents}"
        if len(self._open) >= self.max_depth:
            raise HostileYamlError(f"{where}: nested deeper than {self.max_depth} levels; refused")
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open:
                raise HostileYamlError(f"{where}: alias *{event.anchor} is inside the node it names (a cycle); refused")
            node = super().compose_node(parent, index)
            nodes, depth = self._measure(node)
            self._alias_nodes += nodes
            if self._alias_nodes > self.max_alias_nodes:
                raise HostileYamlError(f"{where}: aliases expand to more than {self.max_alias_nodes} nodes (an alias bomb?); refused")
            if len(self._open) + depth > self.max_depth:
                raise HostileYamlError(f"{where}: alias *{event.anchor} nests deeper than {self.max_depth} levels; refused")
            return node
        self._open.append(event.anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open.pop()
