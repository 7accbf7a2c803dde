"""hhlib: support code for the hh-nn-book (model, integration, analysis, data, network)."""
from . import kernels

kernels.pin()   # before numpy/torch run anything: MKL reads it at its first call
from .ode.model import HHParams, fixed_points, jacobian, rhs  # noqa: E402

__version__ = "0.1.0"
__all__ = ["HHParams", "rhs", "jacobian", "fixed_points", "__version__"]
