"""Evidently's DataDriftPreset on pairs of Parquet files (run in Evidently's own venv, never
lathe's): prints one JSON object per pair, {"columns": {col: {"method", "threshold",
"value", "drifted"}}, "share", "count", "seconds"}.

    bench/.evidently/bin/python bench/peers/evidently_drift.py REF.parquet CUR.parquet [...]
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

P_VALUES = ("p_value", "Anderson-Darling")
INCLUSIVE = ("K-S p_value",)  # Evidently's ks: drift at p <= threshold


def run(ref_path: str, cur_path: str) -> dict:
    started = time.perf_counter()
    ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snap = Report([DataDriftPreset()]).run(cur, ref)
    out: dict = {"columns": {}}
    for metric in snap.dict()["metrics"]:
        config, value = metric["config"], metric["value"]
        if config["type"].endswith("DriftedColumnsCount"):
            out["count"], out["share"] = value["count"], value["share"]
            continue
        method, threshold = config["method"], config["threshold"]
        if any(tag in method for tag in P_VALUES):
            drifted = value <= threshold if method in INCLUSIVE else value < threshold
        else:
            drifted = value >= threshold
        out["columns"][config["column"]] = {"method": method, "threshold": threshold,
                                            "value": value, "drifted": bool(drifted)}
    out["seconds"] = time.perf_counter() - started
    return out


if __name__ == "__main__":
    paths = sys.argv[1:]
    for i in range(0, len(paths), 2):
        print(json.dumps(run(paths[i], paths[i + 1])), flush=True)
