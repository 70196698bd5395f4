"""Drift tests, one pure function each, registered by name (Evidently's stattests shape),
and Evidently 0.7's rule for the default test of a column.

>>> STATTESTS.names()
['anderson', 'chisquare', 'jensenshannon', 'ks', 'mmd', 'psi', 'wasserstein', 'z']
>>> default_stattest("numeric", n_reference=800, nunique=40).name
'ks'
>>> default_stattest("categorical", n_reference=5000, nunique=3).name
'jensenshannon'
"""

from __future__ import annotations

from lathe.monitoring.drift import counts, numeric, text  # noqa: F401  (registers the tests)
from lathe.monitoring.drift._base import STATTESTS, Sample, StatTest, aligned_counts, stattest

__all__ = ["STATTESTS", "Sample", "StatTest", "stattest", "aligned_counts", "default_stattest"]


def default_stattest(kind: str, *, n_reference: int, nunique: int) -> StatTest:
    """The test Evidently 0.7 picks (`_get_default_stattest`): `n_reference` counts the
    reference's non-missing rows, `nunique` the distinct values over both sides.

    Text: MMD on embeddings (Evidently trains a domain classifier instead). Up to 1,000
    reference rows: numeric -> ks, or chisquare/z when at most 5 distinct values;
    categorical -> chisquare, z when binary. Beyond: numeric -> wasserstein (jensenshannon
    when at most 5 distinct values); categorical -> jensenshannon.
    """
    if kind == "text":
        return STATTESTS.get("mmd")
    if n_reference <= 1000:
        if kind == "numeric" and nunique > 5:
            return STATTESTS.get("ks")
        return STATTESTS.get("chisquare" if nunique > 2 else "z")
    if kind == "numeric" and nunique > 5:
        return STATTESTS.get("wasserstein")
    return STATTESTS.get("jensenshannon")
