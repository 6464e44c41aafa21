"""The functional API over expressions: evaluate, grad/vjp, jacobian, hessian, batches of points, descent, diagnosis."""
