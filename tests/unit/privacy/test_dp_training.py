"""`lathe train --dp-epsilon`: the manifest records what was spent, Opacus's accountant run
again on the recorded parameters agrees, and what cannot be private is refused first."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lathe.cli import main
from lathe.privacy.dp.sgd import spent_epsilon


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame({"age": rng.integers(18, 80, n), "hours": rng.normal(40, 8, n).round(),
                          "job": rng.choice(["a", "b", "c", "rare"], n, p=[.4, .3, .299, .001])})
    score = (frame.age - 45) / 10 + (frame.job == "a") * 1.5 + rng.normal(0, 0.5, n)
    frame["y"] = np.where(score > 0.3, "yes", "no")
    path = tmp_path_factory.mktemp("dp") / "people.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(data: Path) -> tuple[dict, dict]:
    out = data.parent / "mlp-dp"
    args = ["train", str(data), "--target", "y", "--model", "mlp", "--dp-epsilon", "1.0",
            "--dp-delta", "1e-5", "--out", str(out), "--json", "--threads", "1"]
    assert main(args) == 0
    return json.loads((out / "manifest.json").read_text()), {"out": out}


def test_manifest_privacy_section(trained: tuple[dict, dict]) -> None:
    manifest, _ = trained
    privacy = manifest["privacy"]
    assert isinstance(privacy["epsilon"], float) and 0 < privacy["epsilon"] <= 1.0
    assert privacy["delta"] == 1e-5 and privacy["accountant"] == "prv"
    for key in ("noise_multiplier", "max_grad_norm", "sample_rate", "epochs", "steps"):
        assert privacy[key] > 0
    assert privacy["training"]["sampling"] == "Poisson"
    assert "reference_profile" not in manifest  # a histogram of the training rows
    # the one-in-a-thousand category cannot be published by a private vocabulary
    job = next(c for c in manifest["schema"]["columns"] if c["name"] == "job")
    assert "rare" not in job["categories"]
    assert manifest["training"]["refit"]["rows"] is None


def test_opacus_accountant_agrees_with_the_record(trained: tuple[dict, dict]) -> None:
    privacy = trained[0]["privacy"]
    training = privacy["training"]
    for accountant in ("prv", "rdp"):
        record = {**training, "accountant": accountant}
        again = spent_epsilon(record, training["delta"])
        # rdp is looser than prv: it may exceed the training share, never by much
        limit = training["target_epsilon"] * (1.0 if accountant == "prv" else 1.3)
        assert again <= limit + 1e-6, (accountant, again)
    total = privacy["preprocessing"]["epsilon"] + spent_epsilon(training, training["delta"])
    assert total <= privacy["target_epsilon"] + 1e-6


def test_private_model_predicts_better_than_chance(trained: tuple[dict, dict]) -> None:
    manifest, _ = trained
    assert manifest["metrics"]["test"]["accuracy"] > 0.6


@pytest.mark.parametrize("args,code,text", [
    (["--model", "gbm", "--dp-epsilon", "1"], 2, "gbm family cannot be trained privately"),
    (["--model", "auto", "--dp-epsilon", "1"], 2, "--model linear or --model mlp"),
    (["--model", "mlp", "--dp-epsilon", "0"], 78, "epsilon"),
    (["--model", "mlp", "--dp-epsilon", "1", "--dp-delta", "0.01"], 2, "below 1/n"),
])
def test_bad_privacy_arguments_refused_and_nothing_written(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
        code: int, text: str) -> None:
    out = tmp_path / "m"
    assert main(["train", str(data), "--target", "y", "--out", str(out), *args]) == code
    assert text in capsys.readouterr().err
    assert not out.exists()


def test_linear_private_is_an_ordinary_linear_artifact(data: Path, tmp_path: Path) -> None:
    from lathe import api

    out = tmp_path / "linear-dp"
    assert main(["train", str(data), "--target", "y", "--model", "linear", "--dp-epsilon", "2",
                 "--out", str(out), "--json", "--threads", "1"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["family"] == "linear" and 0 < manifest["privacy"]["epsilon"] <= 2.0
    assert manifest["privacy"]["delta"] < 1 / 3000
    assert manifest["metrics"]["test"]["accuracy"] > 0.6
    proba = api.load(out).predict_proba(pd.read_csv(data).head(5))
    assert len(proba) == 5


def test_evaluate_and_report_show_what_training_spent(
        trained: tuple[dict, dict], data: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = trained[1]["out"]
    capsys.readouterr()
    report = tmp_path / "r.html"
    assert main(["evaluate", str(out), str(data), "--report", str(report), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["privacy"]["epsilon"] == trained[0]["privacy"]["epsilon"]
    assert metrics["privacy"]["accountant"] == "prv"
    html = report.read_text()
    assert "Differential privacy" in html and "noise_multiplier" in html


def test_refuse_pii_names_the_column_and_the_fix(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["note,x,y"] + [f"call 138 0013 80{i:02d},{i % 7},{'a' if i % 2 else 'b'}"
                           for i in range(40)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(rows) + "\n")
    out = tmp_path / "m"
    assert main(["train", str(path), "--target", "y", "--refuse-pii", "--out", str(out)]) == 65
    err = capsys.readouterr().err
    assert "column 'note' holds PII (CN_MOBILE 40)" in err and "lathe privacy mask" in err
    assert not out.exists()
    masked = tmp_path / "masked.csv"
    assert main(["privacy", "mask", str(path), "--out", str(masked), "--columns", "note"]) == 0
    assert main(["train", str(masked), "--target", "y", "--refuse-pii", "--model", "linear",
                 "--out", str(out)]) == 0


def test_text_columns_are_dropped_with_a_note(tmp_path: Path) -> None:
    from lathe import api

    rng = np.random.default_rng(1)
    n = 600
    words = ["late delivery again", "great service thanks", "refund please now",
             "where is my order", "love the product"]
    frame = pd.DataFrame({"age": rng.integers(18, 80, n),
                          "comment": [f"{rng.choice(words)} {i} {rng.choice(words)}"
                                      for i in range(n)]})
    frame["y"] = np.where(frame.age > 45, "old", "young")
    model = api.train(frame, "y", model="linear", dp_epsilon=3.0, text_columns=["comment"],
                      threads=1)
    assert "comment" in model.schema.dropped
    assert any("dropped text column" in note for note in model.schema.notes)
    assert len(model.predict(frame.head(3))) == 3
