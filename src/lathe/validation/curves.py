"""Learning curves: the model's own recipe (its resolved config from the manifest) refitted on
growing shares of the training rows, scored on those rows and on held-out DATA.

A gap that stays wide as rows grow says the model memorises (over-fitting); two curves that
meet low say it cannot fit (under-fitting); a held-out curve still rising at 100 % says more
data would help. Each point is a full `lathe train` run (split, fit, refit) on that share.

>>> FRACTIONS
(0.1, 0.25, 0.5, 1.0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lathe.errors import UsageError
from lathe.validation._scored import Scored

if TYPE_CHECKING:
    from lathe.model import DataLike, Model

__all__ = ["learning_curve", "FRACTIONS"]

FRACTIONS = (0.1, 0.25, 0.5, 1.0)


def learning_curve(model: Model, scored: Scored, train: DataLike, *,
                   fractions: tuple[float, ...] = FRACTIONS, seed: int = 0) -> dict[str, Any]:
    """`{"metric", "points": [{"fraction", "rows", "train", "held_out"}, ...]}`."""
    from lathe.config import load_config
    from lathe.evaluation.metrics import compute_metrics, primary_metric
    from lathe.model import read_data
    from lathe.training.run import run_training

    frame = read_data(train)
    target = model.schema.target
    if target not in frame.columns:
        raise UsageError(f"the training data has no label column {target!r}",
                         hint="pass the file the model was trained on with --train")
    frame = frame[frame[target].notna()].sample(frac=1.0, random_state=seed)
    config = dict(model.manifest.get("config") or {})
    cfg = load_config(None, base=config, data__target=target, train__seed=seed)
    metric = primary_metric(model.task)
    points = []
    for fraction in fractions:
        part = frame.iloc[: max(50, int(len(frame) * fraction))].reset_index(drop=True)
        family, schema, _, _ = run_training(part, f"{fraction:.0%} of the training rows", cfg)
        scores = {}
        for name, rows, y in (("train", part, None), ("held_out", scored.frame, scored.y)):
            X, _ = schema.conform(rows, source=name)
            if y is None:
                from lathe.data.infer import encode_labels

                y = encode_labels(rows[target], schema, source=name)
            raw = family.predict_raw(X)
            scores[name] = compute_metrics(model.task, y, raw, schema.classes, None,
                                           schema.positive_index).get(metric)
        points.append({"fraction": fraction, "rows": int(len(part)), **scores})
    return {"metric": metric, "points": points}
