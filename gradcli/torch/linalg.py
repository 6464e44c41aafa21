"""torch.linalg: the registry's linear algebra under PyTorch's torch.linalg names, with the defaults
torch.linalg gives where they differ from torch's (Op.linalg: torch.linalg.norm(A, 2) of a matrix is
its spectral norm, torch.linalg.diagonal reads the last two axes, torch.linalg.vander's powers increase).
A name torch.linalg has and gradcli lacks (qr, svd, eigh, ...) raises NotImplementedError naming it."""

from typing import Any

from gradcli.torch.tensor import function

# torch.linalg's functions in PyTorch 2.13 (its other names, such as the _ex variants, are here too: gradcli
# has none of them, and each is refused by its own name rather than as a missing attribute)
NAMES = frozenset({
    "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh",
    "householder_product", "inv", "inv_ex", "ldl_factor", "ldl_factor_ex", "ldl_solve", "lstsq", "lu", "lu_factor",
    "lu_factor_ex", "lu_solve", "matmul", "matrix_exp", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot",
    "norm", "pinv", "qr", "slogdet", "solve", "solve_ex", "solve_triangular", "svd", "svdvals", "tensorinv",
    "tensorsolve", "vander", "vecdot", "vector_norm",
})


def __getattr__(name: str) -> Any:
    if name not in NAMES:  # (as torch.linalg has no torch.linalg.sin)
        raise AttributeError(f"module 'torch.linalg' has no attribute {name!r}")
    return function(name, module="torch.linalg")
