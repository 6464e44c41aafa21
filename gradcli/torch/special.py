"""torch.special: the registry's operations by their names (torch.special.gammaln, digamma, psi, erfinv,
ndtr, i0e, expit, xlog1py, ...), as torch.nn.functional gives them."""

from gradcli.torch.nn.functional import __getattr__  # noqa: F401 (the module's names: one lookup for both)
