"""BentoML peer for bench/serving.py: the booster of a lathe LightGBM artifact behind BentoML.

Runs in BentoML's own venv, never in lathe's: it imports neither lathe nor anything lathe
installs for it. It reads the artifact's files directly (`manifest.json` for the column
kinds and class labels; `model/lightgbm.txt` for the booster) and encodes each JSON row the way
lathe's native LightGBM path does (numbers as floats, categories as the booster's own
`pandas_categorical` codes, unseen or null as missing, one OpenMP thread per booster call), so
a comparison measures the serving stacks, not two different encoders.

Two endpoints, both taking lathe's request body `{"rows": [{field: value, ...}, ...]}`:

* `POST /predict`: one booster call per request (BentoML's default sync API);
* `POST /predict_batched`: BentoML adaptive batching, which joins concurrent requests into one
  booster call, as lathe's micro-batching does.

Start it (python3.11 -m venv /tmp/bento && /tmp/bento/bin/pip install bentoml lightgbm):

    BENTOML_DO_NOT_TRACK=True LATHE_BENCH_ARTIFACT=models/adult /tmp/bento/bin/bentoml serve \\
        bentoml_service:LatheArtifactGBM --port 3000 --working-dir bench/peers
    curl -s localhost:3000/predict -H 'Content-Type: application/json' \\
        -d '{"rows": [{"age": 39, "workclass": "State-gov", ...}]}'
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import bentoml
import numpy as np
from bentoml.exceptions import InvalidArgument

ARTIFACT_ENV = "LATHE_BENCH_ARTIFACT"


class RowEncoder:
    """JSON rows -> the booster's float matrix, with lathe's native-path rules."""

    def __init__(self, manifest: dict[str, Any], booster: Any) -> None:
        kinds = {c["name"]: c["kind"] for c in manifest["schema"]["columns"]}
        features = list(booster.feature_name())
        if [n for n in kinds] != features or set(kinds.values()) - {"numeric", "categorical"}:
            raise RuntimeError(
                "this peer serves LightGBM artifacts on numeric and categorical columns only"
            )
        # LightGBM codes categories in the order of the pandas categoricals it was fitted on
        categorical = [n for n in features if kinds[n] == "categorical"]
        codes = {
            name: {str(value): code for code, value in enumerate(values)}
            for name, values in zip(categorical, booster.pandas_categorical or [], strict=True)
        }
        self.steps = [(name, codes.get(name)) for name in features]

    def encode(self, rows: list[dict[str, Any]]) -> np.ndarray:
        out = np.empty((len(rows), len(self.steps)), dtype=np.float64)
        for i, row in enumerate(rows):
            for j, (name, table) in enumerate(self.steps):
                if name not in row:
                    raise InvalidArgument(f"row {i + 1}: missing field {name!r}")
                out[i, j] = _category(row[name], table) if table else _number(row[name], i, name)
        return out


def _number(value: Any, row: int, name: str) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"row {row + 1}: field {name!r} must be a number") from None


def _category(value: Any, table: dict[str, int]) -> float:
    if value is None:
        return math.nan
    key = value.strip() if isinstance(value, str) else str(value)
    return float(table.get(key, math.nan))


def _artifact() -> Path:
    folder = os.environ.get(ARTIFACT_ENV)
    if not folder or not (Path(folder) / "model" / "lightgbm.txt").is_file():
        raise RuntimeError(
            f"{ARTIFACT_ENV}={folder!r} is not a lathe LightGBM artifact directory; set it to "
            "a folder written by `lathe train` (it holds model/lightgbm.txt)"
        )
    return Path(folder)


@bentoml.service(workers=1)
class LatheArtifactGBM:
    def __init__(self) -> None:
        import lightgbm as lgb

        folder = _artifact()
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("task") != "binary":
            raise RuntimeError("this peer serves binary classifiers (the Adult benchmark)")
        self.booster = lgb.Booster(model_file=str(folder / "model" / "lightgbm.txt"))
        self.encoder = RowEncoder(manifest, self.booster)
        self.classes = [str(c) for c in manifest["classes"]]

    def _predict(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not rows:
            raise InvalidArgument("'rows' is empty")
        # one thread per call, like lathe's native path: for a few rows OpenMP start-up
        # costs more than it saves
        positive = self.booster.predict(self.encoder.encode(rows), num_threads=1)
        negative_label, positive_label = self.classes
        return [
            {
                "label": positive_label if p >= 0.5 else negative_label,
                "probabilities": {negative_label: 1.0 - p, positive_label: p},
            }
            for p in positive.tolist()
        ]

    @bentoml.api
    def predict(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"predictions": self._predict(rows)}

    @bentoml.api(batchable=True, max_batch_size=256, max_latency_ms=5000)
    def predict_batched(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._predict(rows)
