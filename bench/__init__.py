"""PanelPay's benchmarks: they print figures and the exact setup; they are never part of the test suite.

``python -m bench`` runs them all and writes ``bench/RESULTS.md``; ``python -m bench notify --quick`` runs
one with small sizes. See ``bench/README.md``.
"""
