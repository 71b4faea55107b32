"""Analyses over obskit's canonical frames: pure functions, no I/O, no plotting.

Submodules are imported on demand (``from obskit.analyze.drift import column_drift``) so
that importing one analysis does not pay for the others' dependencies (scipy, ...).

``drift``
    Column and dataset drift against a reference, Evidently-compatible verdicts plus the
    obskit verdict (FDR + effect size), KL divergence, PSI, drift over time.
``stattests``
    The registry of drift tests (``ks``, ``chisquare``, ``z``, ``wasserstein``,
    ``jensenshannon``, ``psi``, ``kl_div``, ``hellinger``, ``anderson``,
    ``cramer_von_mises``, ``mannw``, ``t_test``) and Evidently's automatic choice.
"""
