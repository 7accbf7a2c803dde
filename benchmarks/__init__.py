"""The book's benchmarks (run as scripts, ``python benchmarks/<name>.py``; chapter "Cost"
imports them as ``benchmarks.<name>`` with the repository root on ``sys.path``)."""
