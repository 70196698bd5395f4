"""The `text` family under a preset: the encoder model blended with TF-IDF + logistic
regression, and for `best` a fine-tuned encoder when the time budget covers it.
`lathe.training.presets` dispatches here."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from lathe.models import FitData, ModelFamily, get_family
from lathe.models._base import timed_fit
from lathe.training.blend import DEFAULT_BUDGET_S, simplex_weights

__all__ = ["text_blend"]


def text_blend(data: FitData, preset: str, params: dict[str, Any],
               callbacks: list[Any]) -> ModelFamily:
    """The encoder model blended with TF-IDF + logistic regression (and, for `best` when the
    budget allows, a fine-tuned encoder), weights chosen on the validation split. They err
    differently (meaning vs exact words): see bench/text_quality.py for what each adds."""
    from lathe.models.ensemble import Ensemble
    from lathe.models.text import FINETUNE_MEMBER, PRESET_PARAMS, TextModel

    started = time.monotonic()
    budget = data.time_budget_s or DEFAULT_BUDGET_S["text-best" if preset == "best" else preset]
    params = dict(params)
    blend = bool(params.pop("blend", True))
    first = timed_fit(get_family("text")(**{**PRESET_PARAMS.get(preset, {}), **params}), data,
                   callbacks)
    has_valid = data.X_valid is not None and data.y_valid is not None and len(data.X_valid)
    if not has_valid or not blend:
        return first
    assert data.X_valid is not None and data.y_valid is not None
    members = [first, timed_fit(get_family("linear")(), data, callbacks)]
    if preset == "best" and not params:
        # only when the remaining budget covers the fine-tuning and then its refit on every
        # row (about as long again), from steps timed on this machine
        finetuned = get_family("text")(**FINETUNE_MEMBER)
        assert isinstance(finetuned, TextModel)
        estimate = finetuned.estimate_fit_seconds(data)
        remaining = budget - (time.monotonic() - started)
        fits = 2.2 * estimate < remaining
        for cb in callbacks:
            cb("plan", {"member": "fine-tuned encoder", "estimate_s": round(estimate, 1),
                        "budget_left_s": round(remaining), "fits": fits})
        if fits:
            # its own checkpoints: with --resume it must not load the frozen member's
            extra = dict(data.extra)
            if extra.get("checkpoint_dir"):
                extra["checkpoint_dir"] = str(Path(extra["checkpoint_dir"]) / "finetuned")
            members.append(timed_fit(finetuned, replace(data, time_budget_s=remaining, extra=extra),
                                  callbacks))
    weights = simplex_weights([m.predict_raw(data.X_valid) for m in members], data.y_valid,
                              data.schema)
    pairs = [(m, w) for m, w in zip(members, weights, strict=True) if w > 0]
    if len(pairs) == 1:
        return pairs[0][0]
    ensemble = Ensemble([m for m, _ in pairs], [w for _, w in pairs])
    ensemble.schema = data.schema
    ensemble.learning_curve = first.learning_curve
    ensemble.learning_curve_metric = first.learning_curve_metric
    return ensemble
