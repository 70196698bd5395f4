"""Column typing, sources (Parquet by column, frames, training profiles) and the verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lathe.data.profile import profile_frame
from lathe.errors import ConfigError, DataError
from lathe.monitoring.detect import DriftOptions, detect_drift, parse_drift_options
from lathe.monitoring.drift_check import drift_check, line_up_columns
from lathe.monitoring.sources import FrameSource, ParquetSource, ProfileSource


def frame(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(shift, 1, n),
        "level": rng.integers(0, 4, n),                     # int, 4 values: categorical
        "count": rng.integers(0, 50, n),                    # int, 50 values: numeric
        "city": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2] if shift == 0 else
                           [0.2, 0.3, 0.5]),
        "flag": rng.random(n) < 0.3,
        "note": [f"free text {i}" for i in range(n)],       # every value distinct: text
    })


def test_kinds_follow_evidently_inference(tmp_path: Path) -> None:
    f = frame(200)
    f.to_parquet(tmp_path / "f.parquet", index=False)
    for src in (FrameSource(f, "f"), ParquetSource(tmp_path / "f.parquet")):
        kinds = {c: src.kind(c) for c in src.columns}
        assert kinds == {"x": "numeric", "level": "categorical", "count": "numeric",
                         "city": "categorical", "flag": "categorical", "note": "text"}


def test_parquet_and_frame_sources_agree(tmp_path: Path) -> None:
    ref, cur = frame(3000), frame(2500, shift=0.3, seed=1)
    ref.loc[::10, "x"] = np.nan
    ref.to_parquet(tmp_path / "r.parquet", index=False)
    cur.to_parquet(tmp_path / "c.parquet", index=False)
    options = DriftOptions(columns={"note": parse_drift_options(
        {"columns": {"note": {"skip": True}}}).columns["note"]})
    by_frame = detect_drift(FrameSource(ref, "r"), FrameSource(cur, "c"), options)
    by_file = detect_drift(ParquetSource(tmp_path / "r.parquet"),
                           ParquetSource(tmp_path / "c.parquet"), options)
    for name, col in by_frame["columns"].items():
        other = by_file["columns"][name]
        assert (col["test"], col["drifted"]) == (other["test"], other["drifted"]), name
        assert col["statistic"] == pytest.approx(other["statistic"])
    x = by_file["columns"]["x"]
    assert x["test"] == "wasserstein" and x["drifted"]
    assert x["missing_share"]["reference"] == pytest.approx(0.1)
    assert by_file["columns"]["city"]["test"] == "jensenshannon"
    assert "note" not in by_file["columns"]


def test_verdict_share_and_new_categories() -> None:
    ref = pd.DataFrame({"a": ["x", "y"] * 300, "b": np.arange(600.0), "c": np.arange(600.0)})
    cur = ref.copy()
    cur.loc[:99, "a"] = "z"
    cur["b"] += 300
    out = detect_drift(FrameSource(ref, "r"), FrameSource(cur, "c"))
    assert out["columns"]["a"]["test"] == "chisquare" and out["columns"]["a"]["drifted"]
    assert out["columns"]["a"]["new_categories"] == {"count": 1, "share": pytest.approx(1 / 6),
                                                     "top": ["z"]}
    assert out["columns"]["b"]["test"] == "ks" and out["columns"]["b"]["drifted"]
    assert not out["columns"]["c"]["drifted"]
    assert out["n_drifted"] == 2 and out["dataset_drift"]
    assert not detect_drift(FrameSource(ref, "r"), FrameSource(cur, "c"),
                            DriftOptions(drift_share=0.7))["dataset_drift"]


def test_overrides_and_bad_rules() -> None:
    ref, cur = frame(2000), frame(2000, seed=3)
    opts = parse_drift_options({"drift_share": 0.3, "columns": {"x": {"test": "psi",
                                "threshold": 0.5}}, "kinds": {"categorical": {"test": "chisquare"}}})
    out = detect_drift(FrameSource(ref, "r"), FrameSource(cur, "c"), opts, columns=["x", "city"])
    assert (out["columns"]["x"]["test"], out["columns"]["x"]["threshold"]) == ("psi", 0.5)
    assert out["columns"]["city"]["test"] == "chisquare"
    with pytest.raises(ConfigError, match="unknown drift test 'kss'"):
        parse_drift_options({"columns": {"x": {"test": "kss"}}})
    with pytest.raises(ConfigError, match="does not apply to the categorical column 'city'"):
        detect_drift(FrameSource(ref, "r"), FrameSource(cur, "c"),
                     parse_drift_options({"columns": {"city": {"test": "ks"}}}),
                     columns=["city"])


def test_columns_line_up_with_an_absent_label() -> None:
    ref = FrameSource(pd.DataFrame({"a": [1.0], "label": [1]}), "ref.csv")
    cur = FrameSource(pd.DataFrame({"a": [1.0]}), "cur.csv")
    assert line_up_columns(ref, cur, None) == (["a"], "label")
    assert line_up_columns(cur, ref, None) == (["a"], "label")  # the label in CURRENT only
    odd = FrameSource(pd.DataFrame({"a": [1.0], "other": [2.0]}), "odd.csv")
    with pytest.raises(DataError, match="column 'other' is in odd.csv but not in ref.csv"):
        line_up_columns(ref, odd, "label")


def test_profile_reference_agrees_with_the_data_it_summarises() -> None:
    ref, cur = frame(20_000), frame(5000, shift=0.05, seed=2)
    opts = DriftOptions(columns={"note": parse_drift_options(
        {"columns": {"note": {"skip": True}}}).columns["note"]})
    exact = detect_drift(FrameSource(ref, "r"), FrameSource(cur, "c"), opts)
    sketch = detect_drift(ProfileSource(profile_frame(ref), "p"), FrameSource(cur, "c"), opts)
    for name, col in exact["columns"].items():
        assert sketch["columns"][name]["test"] == col["test"]
        assert sketch["columns"][name]["statistic"] == pytest.approx(col["statistic"], abs=0.01)


def test_drift_check_on_files(tmp_path: Path) -> None:
    ref, cur = frame(1500), frame(1500, shift=1.0, seed=5)
    ref.assign(label=1).to_csv(tmp_path / "ref.csv", index=False)
    cur.drop(columns="note").to_parquet(tmp_path / "cur.parquet", index=False)
    with pytest.raises(DataError, match="column 'note' is in"):
        drift_check(str(tmp_path / "ref.csv"), str(tmp_path / "cur.parquet"))
    cur.to_parquet(tmp_path / "cur.parquet", index=False)
    out = drift_check(str(tmp_path / "ref.csv"), str(tmp_path / "cur.parquet"),
                      options=parse_drift_options({"columns": {"note": {"skip": True}}}))
    assert out["label_ignored"] == "label" and out["columns"]["x"]["drifted"]
    empty = tmp_path / "empty.csv"
    empty.write_text("x,level\n")
    with pytest.raises(DataError, match="no data rows"):
        drift_check(str(tmp_path / "ref.csv"), str(empty))


def test_parquet_numbers_are_read_from_arrow_buffers_without_pandas() -> None:
    import pyarrow as pa

    from lathe.monitoring.sources import _numbers

    sliced = pa.array(np.arange(10, dtype=np.int32)).slice(3, 4)    # an offset into a buffer
    chunked = pa.chunked_array([pa.array([1.5, None], pa.float64()), pa.array([2.5])])
    assert _numbers(sliced).tolist() == [3.0, 4.0, 5.0, 6.0]
    out = _numbers(chunked)
    assert np.isnan(out[1]) and out[[0, 2]].tolist() == [1.5, 2.5]
    assert _numbers(pa.array([7, None, 9], pa.uint16())).tolist()[::2] == [7.0, 9.0]
    assert _numbers(pa.array([5, 6], pa.int64()), dtype=np.int64).dtype == np.int64


def test_prediction_drift_against_a_profile_without_predictions_says_why() -> None:
    from lathe.monitoring.drift_check import _prediction_drift

    old = ProfileSource(profile_frame(frame(50)), "old model")  # trained before outputs were kept
    out = _prediction_drift(None, old, FrameSource(frame(50), "cur"), DriftOptions())
    assert "keeps no predictions" in out["skipped"]


def test_a_numeric_profile_column_answers_as_categories_when_the_window_is_small() -> None:
    """A window where an integer column takes at most 10 values is tested as categorical;
    a profile that kept only quantiles (many distinct values) answers with a sketch."""
    rng = np.random.default_rng(3)
    values = np.where(rng.random(20000) < 0.9, 0, rng.integers(1, 100_000, 20000))
    profile = profile_frame(pd.DataFrame({"loss": values}))
    assert "counts" not in profile["columns"]["loss"]  # > 1,000 distinct values
    sample, missing = ProfileSource(profile, "p").sample("loss", "categorical")
    keys, counts = sample.counts()
    assert keys[0] == 0 and counts[0] / sample.n == pytest.approx(0.9, abs=0.01)
    few = profile_frame(pd.DataFrame({"level": rng.integers(0, 300, 5000)}))
    assert len(few["columns"]["level"]["counts"]) == 300  # integers: counts up to 1,000 values
    current = FrameSource(pd.DataFrame({"loss": [0] * 95 + [7, 7, 9, 0, 0]}), "window")
    out = detect_drift(ProfileSource(profile, "p"), current)
    assert out["columns"]["loss"]["kind"] == "categorical"
