"""Taylor mode for matrices: the series of inv, solve, log|det|, det and adjugate, cholesky, expm, eigh.

A matrix series is an array (K+1,) + batch + (n, n), coefficient k first (autodiff/taylor.py).
Each recurrence costs O(K**2) matrix products (the inverse's, the solve's, Cholesky's, the
eigenvalues' perturbation series), or one matrix exponential of a block-Toeplitz matrix of
order (K+1) n for expm; so the cost stays polynomial in K.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcli.autodiff.taylor import Series, antiderivative, cauchy, power


def _product(a: Series, b: Series, k: int, start: int = 1) -> np.ndarray:
    """Coefficient k of the matrix product a b, from a's coefficient start on."""
    terms = [a[j] @ b[k - j] for j in range(start, k + 1)]
    return sum(terms[1:], terms[0])


def matmul(a: Series, b: Series) -> Series:
    """The series of the matrix product a @ b: the Cauchy product with @."""
    return np.stack([_product(a, b, k, start=0) for k in range(len(a))])


def transpose(a: Series) -> Series:
    return np.swapaxes(a, -1, -2)


def inverse(a: Series, b0: np.ndarray) -> Series:
    """The series of inv(a), b0 its value: B_k = -B_0 sum over j = 1..k of A_j B_(k-j)."""
    b = np.empty(a.shape, np.result_type(a, b0))
    b[0] = b0
    for k in range(1, len(a)):
        b[k] = -(b0 @ _product(a, b, k))
    return b


def solve(a: Series, rhs: Series, x0: np.ndarray) -> Series:
    """The series of X with A X = rhs (rhs columns), x0 its value: X_k = solve(A_0, rhs_k - sum A_j X_(k-j))."""
    x = np.empty((len(a),) + x0.shape, x0.dtype)
    x[0] = x0
    for k in range(1, len(a)):
        x[k] = np.linalg.solve(np.broadcast_to(a[0], x0.shape[:-2] + a.shape[-2:]), rhs[k] - _product(a, x, k))
    return x


def log_abs_det(a: Series, value: Any) -> Series:
    """The series of log|det a|, value its own: d/dt log|det A| = tr(A⁻¹ A')."""
    slope_terms = inverse(a, np.linalg.inv(a[0]))
    rate = np.zeros_like(a)
    rate[:-1] = a[1:] * np.arange(1, len(a)).reshape((-1,) + (1,) * (a.ndim - 1))
    slope = np.stack([np.trace(_product(slope_terms, rate, k, start=0), axis1=-2, axis2=-1) for k in range(len(a))])
    return antiderivative(value, slope)


def characteristic(a: Series) -> tuple[Series, Series]:
    """The series of det a and of its adjugate adj a (det a · inv a), by Faddeev and LeVerrier's recurrence:
    M_1 = I, c_(n-1) = -tr A; M_k = A M_(k-1) + c_(n-k+1) I, c_(n-k) = -tr(A M_k) / k; then
    det A = (-1)**n c_0 and adj A = (-1)**(n-1) M_n. Sums and products only, so it holds where A_0 is
    singular too (where det's gradient is the cofactor matrix); O(n**4 K**2)."""
    n = a.shape[-1]
    identity = np.broadcast_to(np.eye(n, dtype=a.dtype), a.shape[1:])
    m = np.zeros(a.shape, a.dtype)
    m[0] = identity
    c = -np.trace(a, axis1=-2, axis2=-1)
    for k in range(2, n + 1):
        m = matmul(a, m)
        m[0] += identity * c[0][..., None, None]
        m[1:] += identity * c[1:][..., None, None]
        c = -np.trace(matmul(a, m), axis1=-2, axis2=-1) / k
    return (-1) ** n * c, (-1) ** (n - 1) * m




def cholesky(a: Series, lower: np.ndarray) -> Series:
    """The series of L with L Lᵀ = A, lower its value: L_0 L_kᵀ + L_k L_0ᵀ = A_k - sum over 0 < j < k of
    L_j L_(k-j)ᵀ, solved as L_k = L_0 Φ(L_0⁻¹ S L_0⁻ᵀ), Φ the lower triangle with its diagonal halved."""
    out = np.empty(a.shape, np.result_type(a, lower))
    out[0] = lower
    inv0 = np.linalg.inv(lower)
    half = np.tril(np.ones(a.shape[-2:])) - 0.5 * np.eye(a.shape[-1])
    for k in range(1, len(a)):
        rest = a[k] - sum((out[j] @ np.swapaxes(out[k - j], -1, -2) for j in range(1, k)), np.zeros(a[0].shape))
        out[k] = lower @ ((inv0 @ rest @ np.swapaxes(inv0, -1, -2)) * half)
    return out


def block_toeplitz_function(a: Series, fn: Callable[[np.ndarray], np.ndarray]) -> Series:
    """The series of fn(a) for a matrix function fn (expm): fn of the block upper-triangular Toeplitz matrix
    whose block (i, j) is A_(j-i) has the series' coefficients in its first block row, as that matrix
    multiplies as the truncated series do."""
    terms, n = len(a), a.shape[-1]
    big = np.zeros(a.shape[1:-2] + (terms * n, terms * n), a.dtype)
    for i in range(terms):
        for j in range(i, terms):
            big[..., i * n:(i + 1) * n, j * n:(j + 1) * n] = a[j - i]
    row = fn(big)[..., :n, :]
    return np.stack([row[..., j * n:(j + 1) * n] for j in range(terms)])


def symmetric_eigen(a: Series) -> tuple[Series, Series]:
    """The series of the eigenvalues of the symmetric A (ascending) and of unit eigenvectors (columns, signed
    as numpy's eigh signs them at t = 0), for distinct eigenvalues.

    In A_0's eigenbasis Q (B_k = Qᵀ A_k Q, B_0 = D diagonal), with eigenvectors V = I + V_1 t + ... whose
    coefficients have zero diagonals, B V = V Λ gives at order k: Λ_k = diag(R_k) and
    V_k[i, j] = R_k[i, j] / (d_j - d_i) off the diagonal, R_k = sum over j = 1..k of B_j V_(k-j)
    - sum over 0 < j < k of V_j Λ_(k-j).
    """
    values, q = np.linalg.eigh(a[0])
    qt = np.swapaxes(q, -1, -2)
    b = np.stack([qt @ a[k] @ q for k in range(len(a))])
    n = a.shape[-1]
    off = ~np.eye(n, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        gaps = np.where(off, 1.0 / (values[..., None, :] - values[..., :, None]), 0.0)
    lam = np.zeros((len(a),) + values.shape, b.dtype)
    lam[0] = values
    v = np.zeros(b.shape, b.dtype)
    v[0] = np.eye(n)
    for k in range(1, len(a)):
        r = _product(b, v, k) - sum((v[j] * lam[k - j][..., None, :] for j in range(1, k)), np.zeros(b[0].shape))
        lam[k] = np.diagonal(r, axis1=-2, axis2=-1)
        v[k] = r * gaps
    unit = power(np.sum(cauchy(v, v), axis=-2, keepdims=True), -0.5)
    return lam, cauchy(q @ v, unit)
