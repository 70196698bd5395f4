"""CheckList-style YAML tests on real small models: each kind can pass and can fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from lathe.errors import ConfigError
from lathe.validation._scored import score_rows
from lathe.validation.behaviour import load_tests, run_behaviour


def _spec(tmp_path: Path, text: str) -> dict:
    path = tmp_path / "tests.yaml"
    path.write_text(text)
    return load_tests(path)


def _results(model, rows, spec) -> dict[str, dict]:
    out = run_behaviour(model, score_rows(model, rows), spec)
    return {r["name"]: r for r in out["behaviour"]}


def test_three_kinds_on_adult(adult_model, tmp_path) -> None:
    model, _, holdout = adult_model
    spec = _spec(tmp_path, """
tests:
  - name: order of columns changes nothing
    kind: invariance
    perturb: {column_order: {}}
  - name: huge capital gains mean high income
    kind: directional
    perturb: {set: {column: capital_gain, value: 99999}}
    expect: {class: ">50K", direction: up}
  - name: huge capital gains lower the odds (wrong on purpose)
    kind: dir
    perturb: {set: {column: capital_gain, value: 99999}}
    expect: {class: ">50K", direction: down}
  - name: a young part-timer earns little
    kind: minimum_functionality
    rows: [{age: 19, hours_per_week: 10, education: 11th, workclass: Private,
            marital_status: Never-married, relationship: Own-child, capital_gain: 0}]
    expect: "<=50K"
""")
    got = _results(model, holdout, spec)
    assert got["order of columns changes nothing"]["passed"]
    assert got["order of columns changes nothing"]["n"] == 0  # nothing touched: nothing counted
    up = got["huge capital gains mean high income"]
    assert up["n"] > 400 and up["failure_rate"] < 0.05
    down = got["huge capital gains lower the odds (wrong on purpose)"]
    assert not down["passed"] and down["failure_rate"] > 0.5
    assert got["a young part-timer earns little"] == {
        "name": "a young part-timer earns little", "kind": "minimum_functionality", "n": 1,
        "failed": 0, "failure_rate": 0.0, "max_failure_rate": 0.0, "passed": True}


def test_text_templates_and_typos_on_banking(banking_model, tmp_path) -> None:
    model, holdout = banking_model
    spec = _spec(tmp_path, """
tests:
  - name: lost cards
    kind: mft
    template: "I {verb} my card"
    fill: {verb: [lost, misplaced]}
    expect: lost_or_stolen_card
    max_failure_rate: 0.5
  - name: typos
    kind: invariance
    perturb: {typos: {}}
    n: 200
    max_failure_rate: 1.0
""")
    got = _results(model, holdout.head(300), spec)
    assert got["lost cards"]["n"] == 2
    assert got["typos"]["n"] == 200 and 0 < got["typos"]["failure_rate"] < 1


@pytest.mark.parametrize(("yaml", "message"), [
    ("tests:\n  - kind: invariant\n    perturb: {typos: {}}\n", "did you mean 'invariance'"),
    ("tests:\n  - kind: invariance\n", "needs `perturb:`"),
    ("tests:\n  - kind: directional\n    perturb: {typos: {}}\n", "needs `expect:`"),
    ("thresholdz: {}\n", "unknown key"),
    ("tests: [1\n", "not valid YAML"),
])
def test_bad_files_are_one_clear_error(tmp_path, yaml, message) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        _spec(tmp_path, yaml)
    assert str(tmp_path / "tests.yaml") in str(err.value)


def test_unknown_perturbation_names_the_test(adult_model, tmp_path) -> None:
    model, _, holdout = adult_model
    spec = _spec(tmp_path, "tests:\n  - name: t\n    kind: inv\n    perturb: {typo: {}}\n")
    with pytest.raises(ConfigError, match="test 't': unknown perturbation 'typo'"):
        run_behaviour(model, score_rows(model, holdout), spec)
