"""Differentially private training: the budget (`plan_budget`), DP-safe preprocessing
(`private_preprocessing`: numeric bounds and category vocabularies bought with part of the
budget, or taken from the config as public) and DP-SGD with Opacus (`train_private`).

How one run's (epsilon, delta) is spent (basic composition, so the parts add up):

- preprocessing: `preprocessing_share` of epsilon, split evenly over the columns that need
  it; numeric bounds from a Laplace histogram over a fixed power-of-two grid (pure epsilon),
  vocabularies by noisy-count thresholding (a tenth of delta);
- DP-SGD: the rest, with Poisson sampling, per-example clipping and the noise multiplier
  Opacus's accountant finds for the remaining (epsilon, delta) over the planned epochs.

Public (not paid for): column names and kinds, the label's classes, the row count of the train
split, and anything listed in `privacy.bounds` / `privacy.categories`.

>>> plan = plan_budget(1.0, None, n_rows=5_000, share=0.1, needs_delta=True)
>>> plan.delta, round(plan.preprocessing_epsilon, 3), round(plan.training_epsilon, 3)
(1e-05, 0.1, 0.9)
"""

from lathe.privacy.dp._budget import DP_FAMILIES_HINT, BudgetPlan, plan_budget

__all__ = ["BudgetPlan", "plan_budget", "DP_FAMILIES_HINT"]
