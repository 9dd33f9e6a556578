"""What each operator computes, checked against the contract's examples and against NumPy's
IEEE float64 arithmetic (an independent implementation of what Go's float64 does).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import reduce

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kasugai_functions.calc.arithmetic import Operator, compute, ieee_divide

FORWARDING = [op for op in Operator if op.forwards]
CHAIN = [
    Operator.PLUS,
    Operator.MINUS,
    Operator.MULTIPLY,
    Operator.DIVIDE,
    Operator.AVERAGE_RESULTS,
]
any_float = st.floats(allow_nan=True, allow_infinity=True)
NUMPY_STEPS: dict[Operator, Callable[[np.float64, np.float64], np.float64]] = {
    Operator.PLUS: np.add,
    Operator.MINUS: np.subtract,
    Operator.MULTIPLY: np.multiply,
    Operator.DIVIDE: np.divide,
}


def run_chain(inputs: list[float]) -> list[float]:
    results: list[float] = []
    for operator in CHAIN:
        results.append(compute(operator, inputs, results))
    return results


def same_float(a: float, b: float) -> bool:
    """Equal as IEEE values: nan matches nan, and the sign of zero counts."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def test_the_contract_worked_examples() -> None:
    assert run_chain([1, 2, 3]) == [6, -4, 6, 0.16666666666666666, 2.0416666666666665]
    assert run_chain([1, 2, 3, 4, 5]) == [15, -13, 120, 0.008333333333333333, 30.502083333333335]


@pytest.mark.parametrize(
    "operator", [Operator.PLUS, Operator.MINUS, Operator.MULTIPLY, Operator.DIVIDE]
)
@pytest.mark.parametrize("inputs", [[], [7.0], [-3.5], [math.nan]])
def test_fewer_than_two_inputs_give_zero(operator: Operator, inputs: list[float]) -> None:
    assert same_float(compute(operator, inputs, [1.0]), 0.0)


@pytest.mark.parametrize(
    ("dividend", "divisor", "expected"),
    [
        (1.0, 0.0, math.inf),
        (-1.0, 0.0, -math.inf),
        (1.0, -0.0, -math.inf),
        (-1.0, -0.0, math.inf),
        (0.0, 0.0, math.nan),
        (math.nan, 0.0, math.nan),
        (math.inf, 0.0, math.inf),
        (6.0, 3.0, 2.0),
    ],
)
def test_division_by_zero_follows_ieee(dividend: float, divisor: float, expected: float) -> None:
    assert same_float(ieee_divide(dividend, divisor), expected)


@given(st.floats(), st.floats())
def test_division_matches_float64(dividend: float, divisor: float) -> None:
    with np.errstate(all="ignore"):
        expected = float(np.float64(dividend) / np.float64(divisor))
    assert same_float(ieee_divide(dividend, divisor), expected)


@given(st.sampled_from(list(NUMPY_STEPS)), st.lists(any_float, min_size=2, max_size=8))
def test_folds_match_float64_left_folds(operator: Operator, inputs: list[float]) -> None:
    step = NUMPY_STEPS[operator]
    with np.errstate(all="ignore"):
        expected = float(reduce(step, map(np.float64, inputs)))
    assert same_float(compute(operator, inputs, []), expected)


@given(st.lists(any_float, max_size=5), st.lists(any_float, max_size=8))
def test_average_results_averages_earlier_results_not_inputs(
    inputs: list[float], earlier: list[float]
) -> None:
    with np.errstate(all="ignore"):
        total = reduce(np.add, map(np.float64, earlier), np.float64(0.0))
        expected = float(total / np.float64(len(earlier)))
    assert same_float(compute(Operator.AVERAGE_RESULTS, inputs, earlier), expected)


def test_average_of_no_results_is_nan_as_in_go() -> None:
    assert math.isnan(compute(Operator.AVERAGE_RESULTS, [1.0, 2.0], []))


def test_result_names_and_forwarding() -> None:
    assert [op.result_name for op in CHAIN] == ["plus", "minus", "multiply", "divide", "average"]
    assert FORWARDING == CHAIN
    with pytest.raises(ValueError, match="receiver"):
        compute(Operator.RECEIVER, [1.0, 2.0], [])
