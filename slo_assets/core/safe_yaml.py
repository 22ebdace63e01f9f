"""YAML from users' files, read so that a small hostile file cannot cost unbounded memory or time.

An alias refers to an anchored node instead of copying it, so nine levels of nine aliases ("billion
laughs", under 1 KB) load as a small graph of shared objects. What expands it is the code that walks
the value: a validator, or an error message that formats the value (`{value!r}` of that file needed
about 25 GB). So the loader refuses a document whose expansion exceeds `MAX_EXPANDED_NODES`, and
messages show values through `shown`, which bounds what it prints.
"""

from __future__ import annotations

import reprlib
from typing import Any

import yaml

# A spec of 1,000 SLOs expands to about 60,000 nodes: this leaves room for any real file and stops
# the expansion of a bomb long before it costs time (the count itself is linear in the file's nodes).
MAX_EXPANDED_NODES = 2_000_000
SHOWN_CHARACTERS = 80

_shown = reprlib.Repr()
_shown.maxstring = SHOWN_CHARACTERS
_shown.maxother = SHOWN_CHARACTERS
_shown.maxlevel = 3
_shown.maxlist = _shown.maxtuple = _shown.maxdict = _shown.maxset = 6


def shown(value: Any) -> str:
    """The value as a message shows it: repr() for what is short, abridged with '...' beyond that
    (at most twice SHOWN_CHARACTERS, however deep or wide the value)."""
    text = _shown.repr(value)
    half = SHOWN_CHARACTERS - 2
    return text if len(text) <= 2 * SHOWN_CHARACTERS else f"{text[:half]}...{text[-half:]}"


def expanded_size(root: yaml.Node, limit: int = MAX_EXPANDED_NODES) -> int:
    """How many nodes the document holds once every alias is expanded, counted up to `limit` (the
    count stops there). Each node's size is computed once, so a graph of shared nodes costs its
    own size, not its expansion. A node that contains itself (`&a [*a]`) expands without end: `limit`."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done and id(node) in open_nodes:
            return limit
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if not children_done:
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        open_nodes.discard(id(node))
        sizes[id(node)] = min(limit, 1 + sum(sizes.get(id(child), 0) for child in children))
    return sizes[id(root)]


class GuardedSafeLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    """yaml.SafeLoader that refuses a document expanding to more than MAX_EXPANDED_NODES nodes."""

    def construct_document(self, node: yaml.Node) -> Any:
        if expanded_size(node) >= MAX_EXPANDED_NODES:
            raise yaml.constructor.ConstructorError(
                None, None, f"through its aliases (&anchor/*alias) the document refers to itself or expands to "
                            f"more than {MAX_EXPANDED_NODES:,} values: refused", node.start_mark)
        return super().construct_document(node)
