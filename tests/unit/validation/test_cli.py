"""`lathe validate` and `lathe evaluate --by` end to end through the CLI: the JSON keys CI
and acceptance read, exit codes, and one clear line for bad input."""

from __future__ import annotations

import json

import pytest

from lathe.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(list(args))
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_fairness_suite_json_even_when_a_check_fails(adult_model, capsys) -> None:
    _, path, holdout = adult_model
    code, result = _run(capsys, "validate", str(path), str(holdout), "--suite", "fairness",
                        "--sensitive", "sex,race", "--json")
    assert code == 1  # sex's demographic parity difference on Adult is ~0.18 > 0.1
    assert result["passed"] is False
    assert "fairness.sex.demographic_parity_difference" in result["failed"]
    for column in ("sex", "race"):
        fair = result["fairness"][column]
        assert isinstance(fair["demographic_parity_difference"], float)
        assert isinstance(fair["equalized_odds_difference"], float)
        for group in fair["groups"].values():
            assert set(group) == {"selection_rate", "tpr", "fpr", "accuracy", "n"}
            assert isinstance(group["n"], int)


def test_default_suite_passes_with_loose_thresholds_and_writes_a_report(
        adult_model, capsys, tmp_path) -> None:
    _, path, holdout = adult_model
    tests = tmp_path / "tests.yaml"
    tests.write_text("thresholds: {max_gap: 0.5, noise: 0.5, missing_values: 0.5}\n")
    page = tmp_path / "validate.html"
    code, result = _run(capsys, "validate", str(path), str(holdout), "--tests", str(tests),
                        "--report", str(page), "--json")
    assert code == 0, result["failed"]
    assert {c["name"] for c in result["checks"]} >= {
        "robustness.column_order", "robustness.noise", "overfitting.duplicates"}
    assert result["worst_slices"]["correction"] == "benjamini-hochberg"
    html = page.read_text()
    assert html.count("data:image/png;base64,") >= 2 and "Worst slices" in html


def test_evaluate_by_gives_slices_with_intervals_and_support(adult_model, capsys) -> None:
    _, path, holdout = adult_model
    code, metrics = _run(capsys, "evaluate", str(path), str(holdout), "--by", "sex,age",
                         "--json")
    assert code == 0
    sex = metrics["slices"]["sex"]
    assert sum(v["n"] for v in sex.values()) == metrics["n_rows"]
    for value in sex.values():
        lo, hi = value["accuracy_ci"]
        assert lo <= value["accuracy"] <= hi
    assert len(metrics["slices"]["age"]) == 4  # quartiles
    assert "slices" in metrics["worst_slices"]


@pytest.mark.parametrize(("args", "message"), [
    (["validate", "--suite", "fairness", "--sensitive", "gender"], "no sensitive column 'gender'"),
    (["validate", "--suite", "fairness"], "needs --sensitive"),
    (["validate", "--suite", "fairnes"], "unknown suite 'fairnes'"),
    (["evaluate", "--by", "sexx"], "did you mean 'sex'"),
])
def test_bad_input_is_one_clear_line(adult_model, capsys, args, message) -> None:
    _, path, holdout = adult_model
    code = main([args[0], str(path), str(holdout), *args[1:]])
    err = capsys.readouterr().err.strip()
    assert code in (2, 65)
    assert message in err and len(err.splitlines()) == 1 and err.startswith("error:")


def test_unknown_behaviour_kind_is_one_clear_line(adult_model, capsys, tmp_path) -> None:
    _, path, holdout = adult_model
    tests = tmp_path / "tests.yaml"
    tests.write_text("tests:\n  - name: names\n    kind: invariant\n    perturb: {typos: {}}\n")
    code = main(["validate", str(path), str(holdout), "--tests", str(tests)])
    err = capsys.readouterr().err.strip()
    assert code == 78
    assert "unknown kind 'invariant'" in err and "did you mean 'invariance'" in err


def test_learning_curve_refits_the_recipe_on_growing_shares(adult_model, capsys,
                                                            tmp_path) -> None:
    import pandas as pd

    _, path, holdout = adult_model
    train = tmp_path / "train.csv"
    pd.read_csv(holdout.parent / "adult.csv", nrows=2000).to_csv(train, index=False)
    code, result = _run(capsys, "validate", str(path), str(holdout), "--train", str(train),
                        "--learning-curve", "--report", str(tmp_path / "v.html"), "--json")
    curve = result["learning_curve"]
    assert curve["metric"] == "roc_auc"
    assert [p["rows"] for p in curve["points"]] == [200, 500, 1000, 2000]
    assert all(0.5 < p["held_out"] <= p["train"] <= 1.0 for p in curve["points"])
    assert "learning curve" in (tmp_path / "v.html").read_text()
    assert main(["validate", str(path), str(holdout), "--learning-curve"]) == 2
    assert "needs the training rows" in capsys.readouterr().err


def test_text_suite_runs_every_text_perturbation(banking_model, capsys, tmp_path) -> None:
    model, holdout = banking_model
    model.save(tmp_path / "banking")
    holdout.head(300).to_csv(tmp_path / "held.csv", index=False)
    code, result = _run(capsys, "validate", str(tmp_path / "banking"),
                        str(tmp_path / "held.csv"), "--suite", "text", "--json")
    assert set(result["robustness"]) == {"typos", "case", "punctuation", "whitespace", "width",
                                         "traditional_chinese"}
    assert (code == 0) == result["passed"]
    assert "by_language" not in result  # English only: one language, no per-language section
    adult = main(["validate", str(tmp_path / "banking"), str(tmp_path / "held.csv"),
                  "--suite", "fairness", "--sensitive", "text"])
    assert adult == 2 and "needs a binary classifier" in capsys.readouterr().err


def test_default_suite_on_english_only_text_leaves_language_out(banking_model, capsys,
                                                                tmp_path) -> None:
    model, holdout = banking_model
    model.save(tmp_path / "banking")
    holdout.head(200).to_csv(tmp_path / "held.csv", index=False)
    code, result = _run(capsys, "validate", str(tmp_path / "banking"),
                        str(tmp_path / "held.csv"), "--json")
    assert "language" not in (result.get("slices") or {})
    assert {"robustness.typos", "robustness.case"} <= {c["name"] for c in result["checks"]}
