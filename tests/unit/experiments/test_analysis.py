"""analyze_file: the acceptance keys, the kind picking the test, SciPy equality end to end,
and one clear error per bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

from lathe.errors import DataError, NotFound, UsageError
from lathe.experiments.service import analyze_file, plan
from tests.conftest import shared_file


@pytest.fixture
def ab_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 4000
    group = rng.choice(["control", "treat"], n)
    converted = (rng.random(n) < np.where(group == "treat", 0.14, 0.10)).astype(int)
    revenue = rng.lognormal(2 + 0.1 * (group == "treat"), 1.0)
    pre = revenue * 0.5 + rng.normal(0, 1, n)
    sessions = rng.poisson(3, n) + 1
    clicks = rng.binomial(sessions, 0.2)
    flag = np.where(converted == 1, "true", "false")
    lines = ["group,converted,revenue,pre,clicks,sessions,flag,label"]
    lines += [f"{g},{c},{r:.6f},{p:.6f},{k},{s},{f},x{c}"
              for g, c, r, p, k, s, f in zip(group, converted, revenue, pre, clicks, sessions, flag,
                                             strict=True)]
    path = tmp_path / "ab.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, group, converted, revenue


def test_acceptance_keys_and_z_equals_statsmodels(ab_csv):
    path, group, converted, _ = ab_csv
    out = analyze_file(path, variant="group", metrics=["converted"], control="control")
    assert set(out) >= {"srm", "metrics", "decision"}
    assert set(out["srm"]) >= {"p_value", "mismatch"}
    comp = out["metrics"]["converted"]["comparisons"]["treat"]
    assert comp["test"] == "z" and len(comp["ci"]) == 2 and isinstance(comp["lift"], float)
    t, c = converted[group == "treat"], converted[group == "control"]
    _, p = proportions_ztest([t.sum(), c.sum()], [t.size, c.size])
    assert comp["p_value"] == pytest.approx(p, abs=1e-9)
    assert comp["lift"] == pytest.approx(t.mean() / c.mean() - 1, abs=1e-12)
    assert out["srm"]["p_value"] == pytest.approx(
        stats.chisquare([c.size, t.size]).pvalue, abs=1e-9)
    assert out["decision"]["verdict"] == "ship"
    assert out["decision"]["sentence"].startswith("Ship treat")


def test_numeric_metric_picks_welch_and_tests_are_scipys(ab_csv):
    path, group, _, revenue = ab_csv
    t, c = revenue[group == "treat"], revenue[group == "control"]
    out = analyze_file(path, variant="group", metrics=["revenue"], control="control")
    comp = out["metrics"]["revenue"]["comparisons"]["treat"]
    assert comp["test"] == "welch"
    # the file holds 6 decimals: compare against SciPy on what the file holds
    t, c = np.round(t, 6), np.round(c, 6)
    assert comp["p_value"] == pytest.approx(stats.ttest_ind(t, c, equal_var=False).pvalue, abs=1e-9)
    out = analyze_file(path, variant="group", metrics=["revenue"], control="control",
                       test="mann-whitney")
    comp = out["metrics"]["revenue"]["comparisons"]["treat"]
    assert comp["test"] == "mann-whitney"
    assert comp["p_value"] == pytest.approx(stats.mannwhitneyu(t, c).pvalue, abs=1e-9)


def test_boolean_text_is_a_proportion_and_ratio_uses_delta(ab_csv):
    path, *_ = ab_csv
    out = analyze_file(path, variant="group", metrics=["flag", "clicks/sessions"],
                       control="control")
    assert out["metrics"]["flag"]["kind"] == "proportion"
    ratio = out["metrics"]["clicks/sessions"]
    assert ratio["kind"] == "ratio" and ratio["comparisons"]["treat"]["test"] == "delta"
    assert ratio["variants"]["control"]["mean"] == pytest.approx(0.2, abs=0.02)
    # two metrics: Holm over both comparisons
    comps = [b["comparisons"]["treat"] for b in out["metrics"].values()]
    assert all(c["p_adjusted"] >= c["p_value"] for c in comps)


def test_cuped_narrows_the_interval(ab_csv):
    path, *_ = ab_csv
    plain = analyze_file(path, variant="group", metrics=["revenue"], control="control")
    adjusted = analyze_file(path, variant="group", metrics=["revenue"], control="control",
                            covariate="pre")
    width = lambda r: np.diff(r["metrics"]["revenue"]["comparisons"]["treat"]["ci"])[0]  # noqa: E731
    assert adjusted["metrics"]["revenue"]["cuped"]["variance_reduction"] > 0.3
    assert width(adjusted) < width(plain)


def test_planned_split_changes_srm(ab_csv):
    path, *_ = ab_csv
    even = analyze_file(path, variant="group", metrics=["converted"], control="control")
    skewed = analyze_file(path, variant="group", metrics=["converted"], control="control",
                          split="10/90")
    assert not even["srm"]["mismatch"] and skewed["srm"]["mismatch"]
    assert skewed["decision"]["verdict"] == "investigate"


def test_report_is_self_contained(ab_csv, tmp_path):
    path, *_ = ab_csv
    out = analyze_file(path, variant="group", metrics=["converted", "revenue"], control="control",
                       report=tmp_path / "ab.html")
    page = Path(out["report"]).read_text()
    assert page.count("data:image/png;base64,") >= 3 and "src=\"http" not in page
    assert "always-valid" in page or "sequential" in page


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"metrics": ["label"]}, DataError, "not numeric or boolean"),
    ({"metrics": ["converted"], "control": "nobody"}, DataError, "has no rows"),
    ({"metrics": ["convertd"]}, DataError, "did you mean 'converted'"),
    ({"metrics": ["converted"], "split": "50/60"}, UsageError, "not 100"),
    ({"metrics": ["converted"], "split": "30/30/40"}, UsageError, "3 shares"),
    ({"metrics": ["converted"], "test": "chi"}, UsageError, "unknown test"),
    ({"metrics": ["revenue"], "test": "z"}, DataError, "other than 0/1"),
    ({"metrics": []}, UsageError, "no metric"),
])
def test_bad_input_is_one_clear_error(ab_csv, kwargs, error, words):
    path, *_ = ab_csv
    args = {"variant": "group", "control": "control", **kwargs}
    with pytest.raises(error, match=words):
        analyze_file(path, **args)


def test_missing_file_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        analyze_file(tmp_path / "nope.csv", variant="g", metrics=["y"], control="a")


def test_variant_with_no_rows_in_split(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("g,y\n" + "a,1\na,0\n" * 5)
    with pytest.raises(DataError, match="only one variant"):
        analyze_file(path, variant="g", metrics=["y"], control="a")


def test_cookie_cats():
    out = analyze_file(shared_file("cookie_cats", "cookie_cats.csv"), variant="version", metrics=["retention_7", "retention_1"],
                       control="gate_30")
    assert out["srm"]["counts"] == {"gate_30": 44_700, "gate_40": 45_489}
    assert not out["srm"]["mismatch"] and out["srm"]["p_value"] == pytest.approx(0.0086, abs=1e-4)
    r7 = out["metrics"]["retention_7"]
    assert r7["variants"]["gate_30"]["mean"] == pytest.approx(0.1902, abs=1e-4)
    assert r7["comparisons"]["gate_40"]["p_value"] == pytest.approx(0.0016, abs=1e-4)
    assert out["decision"]["verdict"] == "roll back"


def test_plan_matches_statsmodels_and_refuses_bad_input():
    assert plan("proportion", baseline=0.12, mde=0.01)["per_arm"] == 17_164
    mde = plan("proportion", baseline=0.12, mde=None, n_per_arm=17_164)["mde"]
    assert mde == pytest.approx(0.01, abs=1e-4)
    assert plan("mean", baseline=None, mde=None, sd=2.0, n_per_arm=1000)["mde"] == \
        pytest.approx(0.2506, abs=1e-4)
    with pytest.raises(UsageError, match="either --mde"):
        plan("proportion", baseline=0.12, mde=0.01, n_per_arm=100)
    with pytest.raises(UsageError, match="standard deviation"):
        plan("mean", baseline=10, mde=1)
    with pytest.raises(UsageError, match="not a proportion"):
        plan("proportion", baseline=1.5, mde=0.01)


def test_three_arms_parquet_and_holm(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(9)
    arm = rng.choice(["a", "b", "c"], 6000)
    y = rng.random(6000) < np.select([arm == "a", arm == "b"], [0.10, 0.13], 0.10)
    path = tmp_path / "ab.parquet"
    pq.write_table(pa.table({"arm": arm, "y": y}), path)
    out = analyze_file(path, variant="arm", metrics=["y"], control="a", split="34/33/33")
    comps = out["metrics"]["y"]["comparisons"]
    assert list(comps) == ["b", "c"] and list(out["srm"]["counts"]) == ["a", "b", "c"]
    raw = [comps[v]["p_value"] for v in ("b", "c")]
    want = multipletests(raw, method="holm")[1]
    assert [comps[v]["p_adjusted"] for v in ("b", "c")] == pytest.approx(list(want), abs=1e-12)
    for v in ("b", "c"):
        t, c = y[arm == v], y[arm == "a"]
        _, p = proportions_ztest([t.sum(), c.sum()], [t.size, c.size])
        assert comps[v]["p_value"] == pytest.approx(p, abs=1e-9)
