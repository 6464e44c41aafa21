"""Arrays built from others, as PyTorch builds them: rot90, block_diag, cartesian_prod, combinations,
diag_embed, diagflat, vander; and the triangular solves: solve_triangular, triangular_solve,
cholesky_solve."""

from __future__ import annotations
