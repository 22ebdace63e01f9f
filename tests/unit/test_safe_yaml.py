"""The YAML guard of specs and runbooks: a document is refused while composing once its aliases expand
past the limit, hold themselves, or nest too deep; shared anchors load as before; messages show a
bounded value."""

from __future__ import annotations

import time

import pytest
import yaml

from slo_assets.core.safe_yaml import GuardedSafeLoader, HostileYamlError, shown


def test_anchors_used_a_few_times_load_as_before():
    text = "base: &b {target: 0.99, window: 28d}\none: *b\ntwo: {<<: *b, target: 0.999}\n---\nthree: *x\n".replace("*x", "[1]")
    assert list(yaml.load_all(text, Loader=GuardedSafeLoader)) == list(yaml.safe_load_all(text))


def bomb(levels: int, width: int = 9) -> str:
    return "a0: &a0 [" + ", ".join(["lol"] * width) + "]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]\n" for i in range(1, levels))


def test_a_bomb_is_refused_while_composing_in_milliseconds():
    began = time.monotonic()
    with pytest.raises(HostileYamlError, match=r"^line 6: document 1: aliases expand to more than 100000 nodes \(an alias bomb\?\); refused$"):
        yaml.load(bomb(9), Loader=GuardedSafeLoader)
    assert time.monotonic() - began < 1  # 9^9 strings once expanded
    assert len(yaml.load(bomb(4), Loader=GuardedSafeLoader)["a3"]) == 9  # 9^3 strings: a file's own size


@pytest.mark.parametrize(("text", "message"), [
    ("a: &a [1, *a]\n", "line 1: document 1: alias *a is inside the node it names (a cycle); refused"),
    ("a: " + "[" * 70 + "]" * 70 + "\n", "line 1: document 1: nested deeper than 64 levels; refused"),
])
def test_a_self_reference_or_a_deep_nest_is_refused(text, message):
    with pytest.raises(HostileYamlError) as error:
        yaml.load(text, Loader=GuardedSafeLoader)
    assert str(error.value) == message


def test_shown_is_repr_when_short_and_bounded_when_long():
    assert shown("Excluded") == repr("Excluded") and shown([1, 2]) == "[1, 2]"
    assert len(shown("x" * 10_000)) <= 82 and "..." in shown("x" * 10_000)
    nested: list = [1]
    for _ in range(50):
        nested = [nested] * 9
    assert len(shown(nested)) <= 160  # 9**50 elements once expanded
