"""pytest plugin loaded (``-p nbval_cwd_plugin``) by the nbval subprocesses of the notebook tests.

nbval starts the kernel in the notebook's own directory (``tests/_executed``); the chapters are
written to run in ``book/`` (jupyter-book and papermill use that directory). When the
environment variable ``HHNB_NBVAL_KERNEL_CWD`` is set, the kernel is started there instead.
"""
import os

import nbval.kernel

_original_init = nbval.kernel.RunningKernel.__init__


def _init_with_cwd(self, kernel_name, cwd=None, *args, **kwargs):
    cwd = os.environ.get("HHNB_NBVAL_KERNEL_CWD") or cwd
    _original_init(self, kernel_name, cwd, *args, **kwargs)


nbval.kernel.RunningKernel.__init__ = _init_with_cwd
