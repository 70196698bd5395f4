"""`catch_all`: route rows that no real class explains to the catch-all label ("oos").

Intent data has a label for queries no intent covers, but its training rows are few and
cannot cover everything users ask, so a classifier alone rarely predicts it (Banking77 with
27 held-out intents, bench/oos.py: out-of-scope recall 0.18). This wrapper scores how well a
row fits the in-scope classes and sends the least typical rows to the catch-all label:

  * confidence: the member's largest probability among the in-scope classes;
  * typicality (when the member embeds its inputs, as the `text` family does): the cosine
    similarity to the nearest in-scope training row. It sees what confidence misses: a
    confident prediction for a query unlike anything in training (AUROC 0.91 vs 0.88 alone).

Each score is standardised on the validation rows of in-scope classes, the two are averaged,
and the threshold is set so that `abstain_rate` of those rows would be routed (the one number
the user trades: in-scope rows lost against out-of-scope rows caught). The routing is soft,
p' = w * onehot(catch_all) + (1 - w) * p with w = sigmoid((threshold - score) / temperature),
so probabilities stay a distribution and every consumer (argmax, metrics, serving) agrees.

>>> import numpy as np
>>> proba = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25]])
>>> route(proba, scores=np.array([1.0, -2.0]), catch_all=2, threshold=-1.0,
...       temperature=0.1).argmax(axis=1).tolist()
[0, 2]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from lathe.data.schema import Schema
from lathe.errors import ConfigError
from lathe.models._base import FAMILIES, Callback, FitData, ModelFamily

__all__ = [
    "CatchAll",
    "catch_all_index",
    "CATCH_ALL_NAMES",
    "detect_catch_all",
    "confidence",
    "typicality",
    "route",
    "calibrate_threshold",
]

CATCH_ALL_NAMES = ("oos", "out_of_scope", "out-of-scope", "out of scope", "outofscope",
                   "no_intent", "none_of_the_above", "unknown")
"""Label names `catch_all: auto` recognises (case-insensitive). 'other' is not among them:
in many data sets it is a real class with its own meaning."""
BANK_ROWS = 20_000  # in-scope training embeddings kept for typicality (fp16: 15 MB at 384-d)
MIN_CALIBRATION_ROWS = 20
TEMPERATURE_SHARE = 0.1  # soft routing width, as a share of the score's spread


def detect_catch_all(classes: Sequence[Any] | None, setting: str | None) -> int | None:
    """Index of the catch-all class: `setting` names it, "auto" looks for a known name,
    "off" (or None) turns routing off.

    >>> detect_catch_all(["balance", "card_lost", "oos"], "auto")
    2
    >>> detect_catch_all(["a", "b", "c"], "auto") is None
    True
    """
    if setting in (None, "off") or not classes or len(classes) < 3:
        return None
    names = [str(c) for c in classes]
    if setting == "auto":
        lowered = [n.strip().lower() for n in names]
        return next((i for i, n in enumerate(lowered) if n in CATCH_ALL_NAMES), None)
    if setting not in names:
        from difflib import get_close_matches

        by_lower = {n.lower(): n for n in names}
        close = [by_lower[m] for m in get_close_matches(str(setting).lower(), list(by_lower), n=3)]
        raise ConfigError(f"catch_all label {setting!r} is not a class of the target",
                          hint=(f"did you mean {', '.join(map(repr, close))}? " if close else "")
                          + "use a label that occurs in the data, auto, or off",
                          field="catch_all")
    return names.index(str(setting))


def confidence(proba: np.ndarray, catch_all: int) -> np.ndarray:
    """The largest probability among the in-scope classes."""
    return np.delete(proba, catch_all, axis=1).max(axis=1)


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def typicality(embeddings: np.ndarray, bank: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Cosine similarity of each row to its nearest row of `bank` (unit rows, any float type).

    >>> bank = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> typicality(np.array([[2.0, 0.0], [1.0, 1.0]]), bank).round(3).tolist()
    [1.0, 0.707]
    """
    queries = _unit(embeddings)
    bank32 = np.asarray(bank, dtype=np.float32)
    out = np.empty(len(queries), dtype=np.float64)
    for start in range(0, len(queries), chunk):  # bounded memory for large batches
        out[start:start + chunk] = (queries[start:start + chunk] @ bank32.T).max(axis=1)
    return out


def route(proba: np.ndarray, scores: np.ndarray, catch_all: int, threshold: float,
          temperature: float) -> np.ndarray:
    """Move probability mass to the catch-all class for rows scoring below `threshold`."""
    z = np.clip((threshold - scores) / max(temperature, 1e-9), -50.0, 50.0)
    w = (1.0 / (1.0 + np.exp(-z)))[:, None]
    onehot = np.zeros(proba.shape[1])
    onehot[catch_all] = 1.0
    return w * onehot + (1.0 - w) * proba


def calibrate_threshold(proba: np.ndarray, scores: np.ndarray, catch_all: int, rate: float,
                        temperature: float) -> float:
    """The threshold at which `rate` of these (in-scope) rows end up predicted as catch-all.

    Rows the member already assigns to the catch-all count towards the rate, so a member that
    routes much on its own gets a low threshold (never below the lowest score: then the rule
    routes nothing more).

    >>> p = np.tile([0.5, 0.3, 0.2], (100, 1)); s = np.linspace(-2, 2, 100)
    >>> round(calibrate_threshold(p, s, 2, 0.1, 0.01), 1)
    -1.6
    """
    def share(threshold: float) -> float:
        return float((route(proba, scores, catch_all, threshold, temperature).argmax(axis=1)
                      == catch_all).mean())

    low, high = float(scores.min()) - 10 * temperature, float(scores.max()) + 10 * temperature
    if share(low) >= rate:
        return low
    for _ in range(60):  # bisection: share() rises with the threshold
        mid = (low + high) / 2
        low, high = (mid, high) if share(mid) < rate else (low, mid)
    return high


def catch_all_index(family: ModelFamily) -> int | None:
    """The class index a catch-all wrapper routes to, else None (`family.catch_all_index()`)."""
    return family.catch_all_index()


@FAMILIES.register("catch_all")
class CatchAll(ModelFamily):
    """A fitted classifier plus the routing rule; see the module docstring."""

    name = "catch_all"
    param_types = {"abstain_rate": float, "use_typicality": bool}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"abstain_rate": 0.03, "use_typicality": True}

    def __init__(self, member: ModelFamily | None = None, catch_all: int | None = None,
                 **params: Any) -> None:
        super().__init__(**params)
        rate = float(self.params["abstain_rate"])
        if not 0.0 <= rate < 0.5:
            raise ConfigError(f"abstain_rate must be in [0, 0.5), got {rate}",
                              hint="e.g. 0.03: up to 3 % of in-scope rows may be routed",
                              field="abstain_rate")
        self.member = member
        self.catch_all = catch_all
        self.bank: np.ndarray | None = None  # unit in-scope training embeddings (float16)
        self.stats: dict[str, list[float]] = {}  # score -> [mean, std] on in-scope valid rows
        self.threshold = -np.inf
        self.temperature = 1.0
        self.calibration: dict[str, Any] = {}

    def catch_all_index(self) -> int | None:
        return self.catch_all

    # ---- fitting ---------------------------------------------------------------------------
    def fit(self, data: FitData, callbacks: Sequence[Callback] = ()) -> Self:
        """Calibrate the rule on `data` with an already fitted `member` (fitted here if not)."""
        assert self.member is not None and self.catch_all is not None
        self.schema = data.schema
        if not getattr(self.member, "schema", None):
            self.member.fit(data, callbacks)
        if data.X_valid is None or data.y_valid is None:
            self.calibration = {"routing": False, "reason": "no validation rows"}
            return self
        in_valid = np.asarray(data.y_valid) != self.catch_all
        if in_valid.sum() < MIN_CALIBRATION_ROWS:
            self.calibration = {"routing": False,
                                "reason": f"only {int(in_valid.sum())} in-scope validation rows"}
            return self
        if self.params["use_typicality"] and self.member.embeds:
            self.bank = self._embedding_bank(self.member, data)
        X_in = data.X_valid[in_valid]
        proba, embeddings = self.member.predict_and_embed(X_in)
        raw_scores = self._raw_scores(proba, embeddings, X_in)
        self.stats = {k: [float(v.mean()), float(v.std() or 1.0)] for k, v in raw_scores.items()}
        scores = self._combine(raw_scores)
        self.temperature = TEMPERATURE_SHARE * float(scores.std() or 1.0)
        rate = float(self.params["abstain_rate"])
        self.threshold = calibrate_threshold(proba, scores, self.catch_all, rate,
                                             self.temperature) if rate > 0 else -np.inf
        routed = route(proba, scores, self.catch_all, self.threshold, self.temperature)
        self.calibration = {
            "routing": rate > 0, "scores": sorted(raw_scores), "calibration_rows": int(len(X_in)),
            "bank_rows": 0 if self.bank is None else int(len(self.bank)),
            "routed_share_in_scope_valid": float((routed.argmax(1) == self.catch_all).mean()),
        }
        oos_valid = ~in_valid
        if oos_valid.any():  # the few catch-all rows validation has: what the rule adds there
            caught = self.predict_raw(data.X_valid[oos_valid]).argmax(1) == self.catch_all
            self.calibration["catch_all_valid_rows"] = int(oos_valid.sum())
            self.calibration["catch_all_valid_recall"] = float(caught.mean())
        return self

    def refit(self, data: FitData, callbacks: Sequence[Callback] = ()) -> CatchAll | None:
        """The classifier refitted on every row, around the routing rule as calibrated.

        The threshold and score statistics stay: they were set on validation rows, which
        the refitted classifier has now seen, so they cannot be set again. The embedding
        bank is rebuilt from every in-scope row with the refitted classifier's embedder (a
        fine-tuned encoder embeds differently). None when the classifier cannot refit.
        """
        if self.member is None or self.catch_all is None:
            return None
        member = self.member.refit(data, callbacks)
        if member is None:
            return None
        child = self.around(member)
        child.refit_report = dict(member.refit_report)
        if self.bank is not None:
            child.bank = self._embedding_bank(member, data)
            child.calibration["bank_rows"] = int(len(child.bank))
        child.calibration["refit"] = ("classifier refitted on every row; threshold and score "
                                      "statistics kept from the validation split")
        return child

    def refit_seconds(self, rows: int) -> float | None:
        return None if self.member is None else self.member.refit_seconds(rows)

    def _embedding_bank(self, member: ModelFamily, data: FitData) -> np.ndarray:
        """Unit embeddings (float16) of the in-scope training rows, at most BANK_ROWS."""
        in_scope = np.flatnonzero(np.asarray(data.y_train) != self.catch_all)
        if len(in_scope) > BANK_ROWS:
            in_scope = np.sort(np.random.default_rng(data.seed).choice(
                in_scope, BANK_ROWS, replace=False))
        return _unit(member.embed(data.X_train.iloc[in_scope])).astype(np.float16)

    def _raw_scores(self, proba: np.ndarray, embeddings: np.ndarray | None,
                    X: pd.DataFrame) -> dict[str, np.ndarray]:
        assert self.catch_all is not None
        out = {"confidence": confidence(proba, self.catch_all)}
        if self.bank is not None:
            if embeddings is None:
                assert self.member is not None
                embeddings = self.member.embed(X)
            out["typicality"] = typicality(embeddings, self.bank)
        return out

    def _combine(self, raw_scores: dict[str, np.ndarray]) -> np.ndarray:
        parts = [(v - self.stats[k][0]) / self.stats[k][1] for k, v in raw_scores.items()]
        return np.mean(parts, axis=0)

    # ---- prediction ------------------------------------------------------------------------
    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        assert self.member is not None and self.catch_all is not None
        if not self.stats or not np.isfinite(self.threshold):
            return self.member.predict_raw(X)
        proba, embeddings = self.member.predict_and_embed(X)
        scores = self._combine(self._raw_scores(proba, embeddings, X))
        return route(proba, scores, self.catch_all, self.threshold, self.temperature)

    def around(self, member: ModelFamily) -> CatchAll:
        """This calibrated rule (threshold, score statistics, embedding bank) around another
        member, e.g. the int8 copy of the classifier it was calibrated on."""
        import copy

        child = copy.copy(self)
        child.member, child.params = member, dict(self.params)
        child.stats, child.calibration = copy.deepcopy(self.stats), copy.deepcopy(self.calibration)
        child.learning_curve = list(self.learning_curve)
        return child

    def feature_importance(self) -> dict[str, float]:
        return self.member.feature_importance() if self.member is not None else {}

    def describe(self) -> dict[str, Any]:
        label = (self.schema.classes or [None])[self.catch_all] if (
            self.schema is not None and self.catch_all is not None) else None
        return {"family": self.name, "params": self.params, "catch_all": label,
                "threshold": float(self.threshold), "calibration": self.calibration,
                "member": self.member.describe() if self.member is not None else None}

    # ---- persistence -----------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        assert self.member is not None
        directory.mkdir(parents=True, exist_ok=True)
        self.member.save(directory / "member")
        if self.bank is not None:
            np.save(directory / "bank.npy", self.bank)
        (directory / "catch_all.json").write_text(json.dumps({
            "params": self.params, "member_family": self.member.name,
            "catch_all": self.catch_all, "stats": self.stats,
            "threshold": float(self.threshold), "temperature": self.temperature,
            "calibration": self.calibration, "learning_curve": self.learning_curve,
            "learning_curve_metric": self.learning_curve_metric,
        }))

    @classmethod
    def load(cls, directory: Path, schema: Schema) -> Self:
        from lathe.models import get_family

        meta = json.loads((directory / "catch_all.json").read_text())
        member = get_family(meta["member_family"]).load(directory / "member", schema)
        model = cls(member, meta["catch_all"], **meta["params"])
        model.schema = schema
        model.stats, model.threshold = meta["stats"], float(meta["threshold"])
        model.temperature, model.calibration = float(meta["temperature"]), meta["calibration"]
        model.learning_curve = meta.get("learning_curve", [])
        model.learning_curve_metric = meta.get("learning_curve_metric", "")
        if (directory / "bank.npy").exists():
            model.bank = np.load(directory / "bank.npy")
        return model
