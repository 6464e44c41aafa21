"""Commands beyond grad/jacobian/hessian/ops, one module per group; each registers on cli.app."""
