"""The YAML guard: a document is refused once its aliases expand past the limit or refer to
themselves; shared anchors within it load as before; messages show a bounded value."""

from __future__ import annotations

import pytest
import yaml

from slo_assets.core.safe_yaml import GuardedSafeLoader, expanded_size, shown


def test_anchors_used_a_few_times_load_as_before():
    text = "base: &b {target: 0.99, window: 28d}\none: *b\ntwo: {<<: *b, target: 0.999}\n"
    assert yaml.load(text, Loader=GuardedSafeLoader) == yaml.safe_load(text)


def test_the_expansion_is_counted_without_expanding():
    text = "a: &a [1, 2, 3]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"
    root = yaml.compose(text, Loader=GuardedSafeLoader)
    a, b = 1 + 3, 1 + 3 * (1 + 3)
    assert expanded_size(root) == 1 + 3 + a + b + (1 + 3 * b)  # the mapping, its 3 keys, then a, b and c expanded
    assert expanded_size(root, limit=10) == 10


@pytest.mark.parametrize("text", ["a: &a [1, *a]\n", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(7))])
def test_a_self_reference_or_a_bomb_is_refused(text):
    with pytest.raises(yaml.constructor.ConstructorError, match="refers to itself or expands to more than 2,000,000 values"):
        yaml.load(text, Loader=GuardedSafeLoader)


def test_shown_is_repr_when_short_and_bounded_when_long():
    assert shown("Excluded") == repr("Excluded") and shown([1, 2]) == "[1, 2]"
    assert len(shown("x" * 10_000)) <= 82 and "..." in shown("x" * 10_000)
    nested: list = [1]
    for _ in range(50):
        nested = [nested] * 9
    assert len(shown(nested)) <= 160  # 9**50 elements once expanded
