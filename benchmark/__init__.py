"""bgbench: a benchmark harness for Boltzmann generators on peptides.

The package is laid out by concern: ``tasks`` (what is evaluated), ``systems`` (molecules
built from sequence), ``energy`` (target energies and the budget), ``data`` (reference
samples), ``metrics`` (the evaluator), ``sampling`` (harness-owned reweighting), ``adapter``
and ``registry`` (the method contract), ``runner`` and ``results`` (runs and records), and
``cli`` (the ``bgbench`` command).
"""

__version__ = "0.1.0"
