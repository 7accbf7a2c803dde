"""hhlib: support code for the hh-nn-book (model, integration, analysis, data, network)."""
from .model import HHParams, fixed_points, jacobian, rhs

__version__ = "0.1.0"
__all__ = ["HHParams", "rhs", "jacobian", "fixed_points", "__version__"]
