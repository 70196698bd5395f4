"""Monitoring and retraining from the prediction log over time: `--window 1d` performance
windows, drift of the last day against a model (prediction drift from its stored profile),
and a challenger trained on the champion's data plus the log's labelled rows (elec2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from lathe.cli import main
from tests.conftest import shared_file

START = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
HOUR = 3600.0


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def fill_log(url: str, stream: pd.DataFrame) -> None:
    """120 requests of 20 rows of `stream`, one every 2 hours from START (10 days); per-row
    outcomes (by row index) for the first 7 days only."""
    from lathe.predlog import PredictionLog, PredictionRecord, open_log

    log = PredictionLog(url)
    for k in range(120):
        rows = stream.iloc[k * 20:(k + 1) * 20]
        log.append(PredictionRecord(
            f"r{k:03d}", "elec", "elec:1", {"rows": rows.drop(columns="class").to_dict("records")},
            [{"label": "0"}] * 20, 1.0, time=START + 2 * HOUR * k, n_rows=20))
    log.close()
    answers = open_log(url)
    for k in range(84):  # 7 days x 12 requests
        for i, value in enumerate(stream["class"].iloc[k * 20:(k + 1) * 20]):
            answers.attach_outcome(f"r{k:03d}", str(value), row=i)
    answers.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """elec:1 trained on rows 0-3,000; the log (SQLite) holds rows 20,000-22,400."""
    data = pd.read_csv(shared_file("elec2", "elec2.csv"))
    root = tmp_path_factory.mktemp("log")
    train = root / "train.csv"
    data.iloc[:3000].to_csv(train, index=False)
    store = f"sqlite:///{root / 'lathe.db'}"
    assert main(["train", str(train), "--target", "class", "--model", "gbm", "--preset",
                 "fast", "--out", str(root / "elec"), "--json"]) == 0
    assert main(["registry", "register", str(root / "elec"), "--name", "elec", "--store",
                 store, "--json"]) == 0
    assert main(["registry", "promote", "elec", "1", "--store", store, "--json"]) == 0
    url = f"sqlite:///{root / 'predictions.db'}"
    stream = data.iloc[20000:22400].reset_index(drop=True)
    fill_log(url, stream)
    return {"store": store, "log": f"log:{url}", "train": str(train)}


def test_performance_per_day_joins_outcomes_and_estimates_the_rest(
        capsys: pytest.CaptureFixture[str], setup: dict[str, str]) -> None:
    code, out, err = run(capsys, "monitor", "performance", "elec@champion", setup["log"],
                         "--window", "1d", "--store", setup["store"], "--json")
    assert code == 0, err
    windows = json.loads(out)["windows"]
    assert len(windows) == 10 and [w["n"] for w in windows] == [240] * 10
    assert windows[0]["since"] == "2026-11-01T00:00:00Z"
    assert windows[0]["until"] == "2026-11-02T00:00:00Z"
    assert [w["start"] for w in windows] == list(range(0, 2400, 240))
    assert all(isinstance(w["accuracy"], float) for w in windows[:7])
    assert all(w["accuracy"] is None and w["n_labelled"] == 0 for w in windows[7:])
    assert all(isinstance(w["estimated_accuracy"], float) for w in windows)
    code, out, err = run(capsys, "monitor", "performance", "elec@champion", setup["log"],
                         "--window", "1d", "--since", "2026-11-09", "--store", setup["store"],
                         "--json")
    assert code == 0, err
    assert [w["since"][:10] for w in json.loads(out)["windows"]] == ["2026-11-09", "2026-11-10"]
    code, _, err = run(capsys, "monitor", "performance", "elec@champion", setup["train"],
                       "--window", "1d", "--store", setup["store"])
    assert code == 2 and "needs the prediction log" in err
    code, _, err = run(capsys, "monitor", "performance", "elec@champion", setup["log"],
                       "--window", "1 fortnight", "--store", setup["store"])
    assert code == 2 and "neither a number of rows nor a duration" in err


def test_drift_of_the_last_day_against_the_model_with_prediction_drift(
        capsys: pytest.CaptureFixture[str], setup: dict[str, str]) -> None:
    code, out, err = run(capsys, "monitor", "drift", "elec@champion", setup["log"],
                         "--window", "1d", "--until", "2026-11-11", "--store", setup["store"],
                         "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["current"]["rows"] == 240
    assert set(result["columns"]) == {"period", "nswprice", "nswdemand", "vicprice",
                                      "vicdemand", "transfer"}
    prediction = result["prediction"]
    assert prediction["prediction"]["test"] in ("jensenshannon", "chisquare", "z")
    assert isinstance(prediction["proba_1"]["statistic"], float)
    code, _, err = run(capsys, "monitor", "drift", "elec@champion", setup["log"], "--window",
                       "1d", "--until", "2026-10-01", "--store", setup["store"])
    assert code == 65 and "no rows" in err and len(err.strip().splitlines()) == 1


def test_a_log_that_does_not_answer_is_one_line(capsys: pytest.CaptureFixture[str],
                                                setup: dict[str, str]) -> None:
    code, out, err = run(capsys, "monitor", "drift", setup["train"],
                         "log:postgresql://lathe@127.0.0.1:9/nowhere", "--json")
    assert code == 69 and json.loads(out)["error"]["type"] == "StoreUnavailable"
    code, _, err = run(capsys, "monitor", "drift", setup["train"],
                       "log:sqlite:////nonexistent/p.db")
    assert code == 66 and len(err.strip().splitlines()) == 1


def test_retrain_from_the_log_adds_recent_labelled_rows_to_the_champions_data(
        capsys: pytest.CaptureFixture[str], setup: dict[str, str]) -> None:
    code, out, err = run(capsys, "retrain", "elec", "--data", setup["log"], "--window", "5d",
                         "--until", "2026-11-11", "--alias", "challenger", "--store",
                         setup["store"], "--json")
    assert code == 0, err
    result = json.loads(out)
    # the last 5 days hold 2 labelled days (480 rows): 96 most recent compare, 384 train
    assert (result["log_rows"], result["holdout_rows"]) == (480, 96)
    assert result["fit_rows"] == 3000 + 384 and result["base_rows"] == 3000
    assert result["parent"] == "elec:1" and result["since"].startswith("2026-11-06")
    code, out, _ = run(capsys, "registry", "list", "elec", "--store", setup["store"], "--json")
    listed = json.loads(out)
    assert listed["aliases"]["challenger"] == int(result["challenger"].split(":")[1])
    code, out, err = run(capsys, "retrain", "elec", "--data", setup["log"], "--until",
                         "2026-11-11", "--base", "none", "--alias", "challenger", "--store",
                         setup["store"], "--json")
    assert code == 0, err
    alone = json.loads(out)  # 7 labelled days, no base: 1,680 rows, 336 compare
    assert (alone["fit_rows"], alone["holdout_rows"], alone["base"]) == (1344, 336, None)
    assert isinstance(alone["challenger_score"], float)
    code, out, err = run(capsys, "retrain", "elec", "--data", setup["train"], "--window", 1000,
                         "--alias", "challenger", "--store", setup["store"], "--json")
    assert code == 0, err  # a file's last 1,000 rows: 800 train, 200 compare
    assert (json.loads(out)["fit_rows"], json.loads(out)["holdout_rows"]) == (800, 200)
    code, _, err = run(capsys, "retrain", "elec", "--data", setup["train"], "--window", "1d",
                       "--store", setup["store"])
    assert code == 2 and "read the prediction log" in err
    code, _, err = run(capsys, "retrain", "elec", "--data", setup["log"], "--window", "1d",
                       "--until", "2026-11-11", "--store", setup["store"])
    assert code == 65 and "no labelled rows" in err


def test_monitor_run_on_the_log_pushes_its_gauges(capsys: pytest.CaptureFixture[str],
                                                  setup: dict[str, str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    monkeypatch.setenv("LATHE_TEST_LOG", setup["log"].removeprefix("log:"))

    from tests.pushgateway import pushgateway, scrape

    with pushgateway() as gateway:
        config = tmp_path / "monitor.yaml"
        config.write_text(yaml.safe_dump({
            "model": "elec@champion", "store": setup["store"], "current": "log:${LATHE_TEST_LOG}",
            "recent": "5d", "until": "2026-11-11", "window": "1d",
            "rules": [{"metric": "estimated_accuracy", "below": 0.999, "for": 2},
                      {"metric": "accuracy", "below": 0.2, "window": "2d"}],
            "outputs": {"pushgateway": gateway}}))
        code, out, err = run(capsys, "monitor", "run", "--config", config, "--json")
        page = scrape(gateway)
    assert code == 3, err
    result = json.loads(out)
    assert [r["breached"] for r in result["rules"]] == [True, False]
    assert result["events"][0]["windows"][-1][1] == 1200  # 5 days x 240 rows, by day
    assert result["outputs"]["pushgateway"]["ok"]
    from prometheus_client.parser import text_string_to_metric_families

    pushed = [s for f in text_string_to_metric_families(page) for s in f.samples
              if s.name == "lathe_monitor_estimated_performance"]
    assert {(s.labels["job"], s.labels["model"]) for s in pushed} == {
        ("lathe_monitor", "elec@champion")}
    config.write_text(config.read_text().replace("window: 1d", "window: 1 day"))
    code, _, err = run(capsys, "monitor", "run", "--config", config)
    assert code == 78 and "neither a number of rows nor a duration" in err
    config.write_text(config.read_text().replace("LATHE_TEST_LOG", "LATHE_UNSET_LOG"))
    code, _, err = run(capsys, "monitor", "run", "--config", config)
    assert code == 78 and "${LATHE_UNSET_LOG}, which is not set" in err


@pytest.mark.postgres
def test_the_same_windows_from_a_postgresql_log(capsys: pytest.CaptureFixture[str],
                                                setup: dict[str, str]) -> None:
    import os
    import uuid

    import sqlalchemy as sa

    server = os.environ.get("LATHE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        import psycopg

        psycopg.connect(server, connect_timeout=2).close()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip, and say why
        pytest.skip(f"no PostgreSQL server answers at {server}: {type(exc).__name__}")
    schema = f"lathe_monitor_{uuid.uuid4().hex[:10]}"
    url = f"{server}?schema={schema}"
    try:
        fill_log(url, pd.read_csv(shared_file("elec2", "elec2.csv")).iloc[20000:22400]
                 .reset_index(drop=True))
        windows = {}
        for log in (setup["log"], f"log:{url}"):
            code, out, err = run(capsys, "monitor", "performance", "elec@champion", log,
                                 "--window", "1d", "--store", setup["store"], "--json")
            assert code == 0, err
            windows[log] = [(w["since"], w["n"], w["n_labelled"], w["accuracy"])
                            for w in json.loads(out)["windows"]]
        assert windows[f"log:{url}"] == windows[setup["log"]]
    finally:
        engine = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()
