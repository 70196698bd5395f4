"""Privacy: differentially private training and statistics, PII found and masked, and a
membership-inference audit (issue #24).

Modules (nothing heavy is imported here; each loads what it needs when called):

- `pii/` (pure, the foundation layer): recognizers for English and Chinese personal data,
  `detect(text)` and `mask_text(text, mode)`.
- `files`: `lathe check --pii` and `lathe privacy mask` over CSV/JSONL/Parquet files (a CSV
  keeps every byte outside the masked cells).
- `dp`: DP-SGD with Opacus (per-sample clipping, Poisson sampling, the noise multiplier
  chosen by the accountant) and DP-safe preprocessing (bounds and vocabularies bought with
  budget); used by the mlp and linear families when `--dp-epsilon` is given.
- `stats`: Laplace and Gaussian counts, sums, means and histograms with a per-dataset budget.
- `audit`: loss-threshold and LiRA-style membership-inference attacks on a trained model.
"""
