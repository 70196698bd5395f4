"""`registry promote --require-validation`: the gate reads the last `lathe validate` of the
version (or runs the suite on --on DATA), refuses a failing one and audits which check."""

from __future__ import annotations

import json

import pytest

from lathe.cli import main


def _history(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    capsys.readouterr()
    assert main(["registry", "history", "adult", "--json"]) == 0
    return json.loads(capsys.readouterr().out)["events"]


def test_promotion_requires_a_passing_validation(adult_model, capsys, tmp_path,
                                                 monkeypatch) -> None:
    _, path, holdout = adult_model
    monkeypatch.setenv("LATHE_STORE", f"sqlite:///{tmp_path}/lathe.db")
    monkeypatch.setenv("LATHE_BLOBS", str(tmp_path / "blobs"))
    assert main(["registry", "register", str(path), "--name", "adult"]) == 0

    assert main(["registry", "promote", "adult", "1", "--require-validation"]) == 75
    assert "no recorded validation" in capsys.readouterr().err

    assert main(["validate", "adult:1", str(holdout), "--suite", "fairness",
                 "--sensitive", "sex", "--json"]) == 1
    assert main(["registry", "promote", "adult", "1", "--require-validation"]) == 75
    err = capsys.readouterr().err
    assert "failed validation" in err and "fairness.sex.demographic_parity_difference" in err
    refused = [e for e in _history(capsys) if e["action"] == "promote_refused"]
    assert "fairness.sex.demographic_parity_difference" in \
        refused[-1]["after"]["validation"]["failed"]

    loose = tmp_path / "loose.yaml"
    loose.write_text("thresholds: {demographic_parity_difference: 0.5, "
                     "equalized_odds_difference: 0.5}\n")
    assert main(["validate", "adult:1", str(holdout), "--suite", "fairness",
                 "--sensitive", "sex", "--tests", str(loose)]) == 0
    assert main(["registry", "promote", "adult", "1", "--require-validation"]) == 0
    promoted = [e for e in _history(capsys) if e["action"] == "promote"][-1]
    assert promoted["after"]["validation"]["passed"] is True
    assert promoted["after"]["validation"]["suite"] == "fairness"


def test_gate_on_data_runs_the_default_suite(adult_model, capsys, tmp_path,
                                             monkeypatch) -> None:
    _, path, holdout = adult_model
    monkeypatch.setenv("LATHE_STORE", f"sqlite:///{tmp_path}/lathe.db")
    monkeypatch.setenv("LATHE_BLOBS", str(tmp_path / "blobs"))
    assert main(["registry", "register", str(path), "--name", "adult"]) == 0
    code = main(["registry", "promote", "adult", "1", "--alias", "staging",
                 "--require-validation", "--on", str(holdout)])
    events = _history(capsys)
    validated = [e for e in events if e["action"] == "validate"]
    assert validated and validated[-1]["after"]["suite"] == "default"
    assert validated[-1]["after"]["data"] == str(holdout)
    assert (code == 0) == validated[-1]["after"]["passed"]
