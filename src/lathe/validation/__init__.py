"""Model validation: slices, fairness, robustness, behaviour tests and over-fitting checks,
one command whose result is a gate (`lathe validate`, `registry promote --require-validation`).

Modules: `slices` (metrics per slice with intervals, worst slices under Benjamini-Hochberg),
`fairness` (Fairlearn group metrics, parity and equalized-odds gaps), `mitigation`
(ThresholdOptimizer), `robustness/` (perturbations), `behaviour` (CheckList-style YAML
tests), `overfit` (train-vs-held-out gap, duplicates), `language` (per-row detection),
`suite` (what each suite runs), `report` (HTML). Heavy libraries (scipy, Fairlearn,
py3langid, matplotlib) load inside the functions that use them.

>>> from lathe.validation import SUITES
>>> SUITES
('default', 'fairness', 'robustness', 'text')
"""

from __future__ import annotations

from lathe.validation.evaluate import evaluation_sections, split_columns
from lathe.validation.suite import SUITES, language_section, run_suite, slice_section

__all__ = ["SUITES", "run_suite", "slice_section", "language_section", "evaluation_sections",
           "split_columns"]
