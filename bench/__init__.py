"""PanelPay's benchmarks: they print figures and the exact setup; they are never tests.

``python -m bench`` runs all four and writes ``bench/RESULTS.md``; ``python -m bench notify --quick`` runs one
with small sizes. See ``bench/README.md``.
"""
