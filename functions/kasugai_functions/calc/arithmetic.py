"""What each calcapp operator computes: pure float arithmetic, exactly as the original Go.

plus, minus, multiply and divide fold left over the inputs from the first value, and give 0 for
fewer than two inputs. average_results averages the values of the earlier results (a left fold from
0.0, then one division). Everything follows IEEE 754 like Go's float64: Python raises on division
by zero where Go gives inf or nan, so division goes through ``ieee_divide``. Folds are written out
rather than ``sum()``, whose compensated summation (Python 3.12+) would differ from Go in the last
digit.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from operator import add, mul, sub


class Operator(enum.Enum):
    """The ``-operator`` values of the original CLI."""

    PLUS = "plus"
    MINUS = "minus"
    MULTIPLY = "multiply"
    DIVIDE = "divide"
    AVERAGE_RESULTS = "average_results"
    RECEIVER = "receiver"

    @property
    def result_name(self) -> str:
        """The ``operator`` written into the result (the original writes ``average``)."""
        return "average" if self is Operator.AVERAGE_RESULTS else self.value

    @property
    def forwards(self) -> bool:
        """Whether the function passes the request on; the receiver ends the chain."""
        return self is not Operator.RECEIVER


def ieee_divide(dividend: float, divisor: float) -> float:
    """``dividend / divisor`` with IEEE 754 results for a zero divisor (as Go's float64)."""
    if divisor != 0.0:
        return dividend / divisor
    if dividend == 0.0 or math.isnan(dividend):
        return math.nan
    # The sign of a zero divisor counts: 1 / -0.0 is -inf.
    return math.copysign(math.inf, dividend) * math.copysign(1.0, divisor)


_INPUT_FOLDS: dict[Operator, Callable[[float, float], float]] = {
    Operator.PLUS: add,
    Operator.MINUS: sub,
    Operator.MULTIPLY: mul,
    Operator.DIVIDE: ieee_divide,
}


def compute(operator: Operator, inputs: Sequence[float], earlier_results: Sequence[float]) -> float:
    """The value ``operator`` appends to the results of a request.

    Raises ValueError for the receiver, which computes nothing.
    """
    if operator is Operator.AVERAGE_RESULTS:
        total = 0.0
        for value in earlier_results:
            total += value
        return ieee_divide(total, float(len(earlier_results)))
    step = _INPUT_FOLDS.get(operator)
    if step is None:
        raise ValueError(f"operator {operator.value!r} computes no value")
    if len(inputs) < 2:
        return 0.0
    value = inputs[0]
    for operand in inputs[1:]:
        value = step(value, operand)
    return value
