"""`lathe experiment ...` end to end through the CLI: JSON shape, exit codes, nothing changed
on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lathe.cli import main
from lathe.registry import open_registry
from lathe.registry.testing import fake_artifact


def _run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def ab_file(tmp_path):
    rng = np.random.default_rng(1)
    group = rng.choice(["control", "b"], 3000)
    y = (rng.random(3000) < np.where(group == "b", 0.3, 0.2)).astype(int)
    path = tmp_path / "ab.csv"
    path.write_text("group,converted\n" + "".join(f"{g},{v}\n" for g, v in zip(group, y,
                                                                                strict=True)))
    return path


def test_analyze_json_and_text(capsys, ab_file, tmp_path):
    code, out, _ = _run(capsys, "experiment", "analyze", str(ab_file), "--variant", "group",
                        "--metric", "converted", "--control", "control", "--test", "z", "--json")
    assert code == 0
    data = json.loads(out)
    comp = data["metrics"]["converted"]["comparisons"]["b"]
    assert set(data) >= {"srm", "metrics", "decision"} and comp["test"] == "z"
    assert isinstance(data["srm"]["mismatch"], bool) and len(comp["ci"]) == 2
    code, out, err = _run(capsys, "experiment", "analyze", str(ab_file), "--variant", "group",
                          "--metric", "converted", "--control", "control",
                          "--report", str(tmp_path / "ab.html"))
    assert code == 0 and out == "" and err.startswith("Ship b")
    assert (tmp_path / "ab.html").stat().st_size > 10_000


def test_plan(capsys):
    code, out, _ = _run(capsys, "experiment", "plan", "--metric-kind", "proportion",
                        "--baseline", "0.12", "--mde", "0.01", "--json")
    assert code == 0 and json.loads(out)["per_arm"] == 17_164


def test_start_list_stop(capsys, tmp_path):
    store = f"sqlite:///{tmp_path / 'lathe.db'}"
    with open_registry(store) as reg:
        reg.register(fake_artifact(tmp_path / "a", seed=1, auc=0.8), name="churn")
        reg.register(fake_artifact(tmp_path / "b", seed=2, auc=0.9), name="churn")
        reg.promote("churn", 1)
    base = ["--store", store]
    code, _, err = _run(capsys, "experiment", "start", "x", "--control", "churn@champion",
                        "--treatment", "churn:2", "--split", "60/50", "--unit", "user_id", *base)
    assert code == 2 and err.count("\n") == 1 and "100" in err
    code, out, _ = _run(capsys, "experiment", "list", *base, "--json")
    assert json.loads(out) == {"experiments": []}
    code, out, _ = _run(capsys, "experiment", "start", "x", "--control", "churn@champion",
                        "--treatment", "churn:2", "--unit", "user_id", *base, "--json")
    assert code == 0 and json.loads(out)["treatment"] == "churn:2"
    code, _, err = _run(capsys, "experiment", "start", "y", "--control", "churn@champion",
                        "--treatment", "churn:2", "--unit", "user_id", *base)
    assert code == 75 and "already runs" in err
    code, out, _ = _run(capsys, "experiment", "stop", "x", "--promote", *base, "--json")
    assert code == 0 and json.loads(out)["status"] == "promoted"
    with open_registry(store) as reg:
        assert reg.resolve("churn@champion").version == 2
