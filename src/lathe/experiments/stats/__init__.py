"""Pure A/B statistics: numpy, SciPy and statsmodels only, no I/O.

- `proportions`: pooled two-proportion z-test, Wilson and Newcombe intervals, P(beat control)
- `means`: summaries, Welch's t, delta-method lift and ratio metrics, Mann-Whitney U
- `bootstrap`: percentile intervals of a difference in means
- `srm`: sample-ratio mismatch; `cuped`: variance reduction with a pre-period covariate
- `sequential`: always-valid mSPRT p-values and confidence sequences
- `multiple`: Holm; `power`: sample size, MDE and power

>>> from lathe.experiments.stats.srm import srm_test
>>> srm_test([500, 500], [1, 1]).mismatch
False
"""
