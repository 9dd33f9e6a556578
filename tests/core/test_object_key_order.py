"""``ObjectKey`` orders by (kind, namespace, name), exactly as the tuple of its fields, with the
comparisons written out (attrs' generic ones were a tenth of planning)."""

from __future__ import annotations

import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kasugai.core.events import ObjectKey

parts = st.sampled_from(["", "a", "b", "Pod", "pod", "ns-1", "ns-10", "ns-2", "é"])
keys = st.builds(ObjectKey, parts, parts, parts)


@given(keys, keys)
def test_orders_as_the_tuple_of_its_fields(left: ObjectKey, right: ObjectKey) -> None:
    as_tuple = (left.kind, left.namespace, left.name), (right.kind, right.namespace, right.name)
    for compare in (operator.lt, operator.le, operator.gt, operator.ge):
        assert compare(left, right) == compare(*as_tuple)


@given(st.lists(keys))
def test_sorted_keys_are_sorted_tuples(found: list[ObjectKey]) -> None:
    ordered = [(k.kind, k.namespace, k.name) for k in sorted(found)]
    assert ordered == sorted((k.kind, k.namespace, k.name) for k in found)


def test_is_not_ordered_against_other_types() -> None:
    with pytest.raises(TypeError):
        _ = ObjectKey("Pod", "ns", "a") < ("Pod", "ns", "a")
