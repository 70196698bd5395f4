"""DP statistics: the mechanisms match their published formulas (and Opacus's PRV
accountant), the noise has the calibrated spread, and the per-dataset budget is enforced."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from lathe.cli import main
from lathe.errors import Conflict, DataError, UsageError
from lathe.privacy.mechanisms import (
    add_noise,
    classic_gaussian_sigma,
    gaussian_delta,
    gaussian_sigma,
    laplace_scale,
)
from lathe.privacy.stats import private_stats


def test_laplace_noise_has_the_published_scale() -> None:
    rng = np.random.default_rng(1)
    noisy, params = add_noise(np.zeros(200_000), "laplace", 2.0, 0.5, 0.0, rng)
    assert params["scale"] == laplace_scale(2.0, 0.5) == 4.0
    # Lap(b) has mean absolute deviation b and variance 2 b^2
    assert abs(np.abs(noisy).mean() - 4.0) < 0.05
    assert abs(noisy.var() - 32.0) < 0.6


@pytest.mark.parametrize("epsilon", [0.1, 0.5, 1.0, 3.0])
def test_analytic_gaussian_meets_delta_and_beats_the_classic_sigma(epsilon: float) -> None:
    sigma = gaussian_sigma(1.0, epsilon, 1e-5)
    assert gaussian_delta(1.0, epsilon, sigma) <= 1e-5
    assert gaussian_delta(1.0, epsilon, sigma * 0.99) > 1e-5  # the smallest such sigma
    if epsilon < 1:  # where Dwork and Roth's Theorem A.1 holds
        assert sigma < classic_gaussian_sigma(1.0, epsilon, 1e-5)


@pytest.mark.parametrize("epsilon", [0.5, 1.0, 3.0])
def test_gaussian_sigma_agrees_with_opacus_prv_accountant(epsilon: float) -> None:
    # one step of the sampled Gaussian mechanism with sampling rate 1 is the Gaussian
    # mechanism: Opacus's PRV accountant must find (about) the same epsilon
    from opacus.accountants import create_accountant

    accountant = create_accountant("prv")
    accountant.history = [(gaussian_sigma(1.0, epsilon, 1e-5), 1.0, 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = accountant.get_epsilon(delta=1e-5)
    assert abs(found - epsilon) <= 0.02 * epsilon + 0.005


@pytest.fixture
def people(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = ["age,city"] + [f"{a},{c}" for a, c in zip(
        rng.integers(20, 60, 5000), rng.choice(["a", "b", "c"], 5000), strict=True)]
    rows.append("99,tiny-town")  # one row: must never appear in a histogram
    path = tmp_path / "people.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_queries_are_close_and_rare_categories_hidden(people: Path, tmp_path: Path) -> None:
    out = private_stats(people, epsilon=3.0, count=True, means=["age"], histograms=["city"],
                        bounds={"age": (0, 100)}, ledger=tmp_path / "b.json", budget=3.0)
    results = out["results"]
    assert abs(results["count"]["value"] - 5001) < 30
    assert abs(results["mean"]["age"]["value"] - 39.5) < 1.5
    assert set(results["histogram"]["city"]["counts"]) == {"a", "b", "c"}
    assert out["budget"]["remaining"] == 0.0


def test_budget_is_spent_and_refused_without_writing(people: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "b.json"
    private_stats(people, epsilon=0.6, count=True, ledger=ledger, budget=1.0)
    before = ledger.read_text()
    with pytest.raises(Conflict, match="budget of people.csv is spent"):
        private_stats(people, epsilon=0.5, count=True, ledger=ledger, budget=1.0)
    assert ledger.read_text() == before
    # a renamed copy is the same data: it shares the budget
    copy = tmp_path / "copy.csv"
    copy.write_bytes(people.read_bytes())
    with pytest.raises(Conflict):
        private_stats(copy, epsilon=0.5, count=True, ledger=ledger, budget=1.0)


@pytest.mark.parametrize("kwargs,error", [
    ({"epsilon": 0.0, "count": True}, UsageError), ({"epsilon": 1.0}, UsageError),
    ({"epsilon": 1.0, "means": ["agee"]}, DataError),
    ({"epsilon": 1.0, "count": True, "mechanism": "exp"}, UsageError),
    ({"epsilon": 1.0, "count": True, "delta": 0.5}, UsageError),
])
def test_bad_queries_are_refused(people: Path, tmp_path: Path, kwargs: dict,
                                 error: type) -> None:
    with pytest.raises(error):
        private_stats(people, ledger=tmp_path / "b.json", **kwargs)
    assert not (tmp_path / "b.json").exists()


def test_cli_stats_json(people: Path, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "b.json"
    assert main(["privacy", "stats", str(people), "--epsilon", "0.5", "--count", "--mean",
                 "age", "--mechanism", "gaussian", "--ledger", str(ledger), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"]["mean"]["age"]["bounds_source"].startswith("bought")
    assert math.isclose(out["budget"]["spent"], 0.5)
    assert main(["privacy", "stats", str(people), "--epsilon", "5", "--count",
                 "--ledger", str(ledger)]) == 75
    assert "budget" in capsys.readouterr().err
