"""The three-way check: the engine's derivatives against SymPy's and central finite differences.

    >>> from gradcli.api import functional
    >>> report = verify(functional.grad("mean(2*x)", {"x": [1, 2, 3]}))
    >>> report.ok, [(f.label, str(f.expr)) for f in report.formulas["x"]]
    (True, [('∂f/∂x_i', '2/3')])

A jvp's or a Hessian-vector product's entries are derivatives along a direction,
checked as derivatives in a step along it (check_forward.py). A check plans the entries to compare (check_plan.py), fills in central finite
differences (check_differences.py) and SymPy's derivatives (check_sympy.py), and returns
the Report; the report's types are importable from here. Derivatives of order K of one
variable are checked by verify_order (check_order.py).

In float32 the references are computed in float64 from the float32-rounded values (the
differences, and SymPy's exact derivative at those values), and the engine's float32
numbers are held to them: the finite-difference tolerances stay (torch gradcheck's rtol
1e-3 and atol 1e-5 hold float32 rounding with room to spare), and SymPy's become
torch.testing's for float32 (rtol 1.3e-6, atol 1e-5) instead of float64's 1e-9 and 1e-12.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from gradcli.analysis.check_differences import finite_differences
from gradcli.analysis.check_forward import verify_forward
from gradcli.analysis.check_order import OrderReport, verify_order
from gradcli.analysis.check_plan import Formula, Report, SubCheck, Tolerance, plan
from gradcli.analysis.check_sympy import symbolic_side
from gradcli.api.functional import grad as engine_grad
from gradcli.api.functional import jacobian
from gradcli.api.problem import Result, problem
from gradcli.autodiff.engine import no_grad
from gradcli.errors import GradcliError

__all__ = ["Formula", "OrderReport", "Report", "SubCheck", "Tolerance", "derivative", "formulas", "verify", "verify_order"]

FLOAT32_SYMPY_RTOL = 1.3e-6  # torch.testing.assert_close's defaults for float32
FLOAT32_SYMPY_ATOL = 1e-5


def verify(result: Result, tolerance: Tolerance = Tolerance(), samples: int = 32, seed: int = 0) -> Report:
    """Compare result's derivatives with SymPy's and with central finite differences."""
    if result.problem.dtype == np.float32:
        tolerance = replace(tolerance, sympy_rtol=FLOAT32_SYMPY_RTOL, sympy_atol=FLOAT32_SYMPY_ATOL)
    if result.kind in ("jvp", "hvp"):
        return verify_forward(result, tolerance, samples, seed)
    report = plan(result, samples, seed, tolerance)
    finite_differences(report)
    symbolic_side(report, evaluate=True)
    return report


def derivative(expr: str, values: dict[str, Any], wrt: Any = None, dtype: Any = None) -> Result:
    """The gradient of a scalar expression, the Jacobian of any other: what `gradcli check` checks."""
    p = problem(expr, values, wrt, dtype=dtype)
    with no_grad():
        out, _ = p.forward()
    return engine_grad(p, {}) if out.size == 1 else jacobian(p, {})


def formulas(result: Result, samples: int = 32, seed: int = 0) -> Report:
    """The symbolic derivatives alone (simplified), as a report without numeric comparisons."""
    report = plan(result, samples, seed, Tolerance())
    symbolic_side(report, evaluate=False)
    if report.sympy.note:
        raise GradcliError(f"no symbolic derivative: {report.sympy.note}", kind="symbolic")
    return report
