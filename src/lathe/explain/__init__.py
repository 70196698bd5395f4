"""Why a model decides as it does: per-row contributions (TreeSHAP for gbm, sampled Shapley
values otherwise), global importance (permutation + mean |contribution|) and an HTML report.

>>> from lathe.explain import explain_rows, global_importance  # doctest: +SKIP
"""

from lathe.explain.contributions import METHODS, explain_rows, global_importance
from lathe.explain.report import render_explain_report, write_explain_report
from lathe.explain.shapley import sampling_shapley

__all__ = ["explain_rows", "global_importance", "sampling_shapley", "write_explain_report",
           "render_explain_report", "METHODS"]
