"""`lathe tune` and `lathe explain` command functions, run through a Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from typer.testing import CliRunner

import lathe.api
from lathe.cli.explain import explain
from lathe.cli.tune import tune

app = typer.Typer()
app.command()(tune)
app.command()(explain)


def test_tune_then_explain_from_the_command_line(adult: pd.DataFrame, tmp_path: Path) -> None:
    data = tmp_path / "adult.csv"
    adult.head(1200).to_csv(data, index=False)
    space = tmp_path / "space.yaml"
    space.write_text("n_estimators: 40\nearly_stopping_rounds: 10\nnum_leaves: {low: 8, high: 32}\n")
    runner = CliRunner()
    out = tmp_path / "best"
    result = runner.invoke(app, ["tune", str(data), "--target", "income", "--trials", "3",
                                 "--storage", f"sqlite:///{tmp_path}/t.db", "--study", "cli",
                                 "--space", str(space), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["trials"] == {"complete": 3} and payload["study_name"] == "cli"
    assert 8 <= payload["best_params"]["num_leaves"] <= 32
    assert lathe.api.load(out).manifest["tuning"]["best_value"] == payload["best_value"]
    report = tmp_path / "explain.html"
    result = runner.invoke(app, ["explain", str(out), str(data), "--rows", "2", "--json",
                                 "--report", str(report)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["method"] == "tree_shap" and len(payload["rows"]) == 2
    assert set(payload["rows"][0]["contributions"]) == set(payload["global_importance"])
    assert report.read_text().startswith("<!DOCTYPE html>")


def test_tune_no_refit_keeps_the_first_fit_and_records_the_sampler_seed(
        adult: pd.DataFrame, tmp_path: Path) -> None:
    data = tmp_path / "adult.csv"
    adult.head(800).to_csv(data, index=False)
    space = tmp_path / "space.yaml"
    space.write_text("n_estimators: 30\nearly_stopping_rounds: 10\n")
    runner = CliRunner()
    for flag, rows in (("--no-refit", None), ("--refit", 800)):
        out = tmp_path / flag.strip("-")
        result = runner.invoke(app, ["tune", str(data), "--target", "income", "--trials", "2",
                                     "--storage", f"sqlite:///{tmp_path}/t.db", "--study", flag,
                                     "--space", str(space), "--sampler-seed", "7", flag,
                                     "--out", str(out), "--json"])
        assert result.exit_code == 0, result.output
        manifest = lathe.api.load(out).manifest
        assert manifest["lineage"]["rows"]["refit"] == rows
        assert manifest["tuning"]["sampler_seed"] == 7
