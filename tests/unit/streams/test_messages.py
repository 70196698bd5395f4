"""The message contract (pure) and one batch scored by the server's predictor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import lathe
from lathe.serving.predictor import load_predictor
from lathe.streams.consumer import StreamSettings, score_batch
from lathe.streams.messages import BadMessage, decode

ADULT = Path(__file__).resolve().parents[3] / "examples" / "data" / "adult.csv"


@pytest.mark.parametrize("body, reason", [
    (b"", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "got a JSON list"),
    (b'{"id": "", "row": {}}', 'no "id"'),
    (b'{"id": true, "row": {}}', 'no "id"'),
    (b'{"id": "a", "row": [1]}', '"row" must be a JSON object'),
    (b'{"id": "a", "rows": []}', 'non-empty "rows"'),
    (b'{"id": "a", "rows": [1]}', "rows[0] must be a JSON object"),
    (b'{"id": "a", "rows": [{"id": null, "row": {}}]}', 'rows[0] has no "id"'),
])
def test_bad_messages_say_why(body: bytes, reason: str) -> None:
    with pytest.raises(BadMessage, match=reason.replace("[", r"\[").replace("]", r"\]")):
        decode(body)


def test_ids_of_rows() -> None:
    message = {"id": 7, "rows": [{"id": "x", "row": {"a": 1}}, {"a": 2}, {"id": 9, "a": 3}]}
    decoded = decode(json.dumps(message))
    assert decoded.message_id == "7" and decoded.many
    assert decoded.ids == ["x", "7:1", "9"]
    assert decoded.rows == [{"a": 1}, {"a": 2}, {"id": 9, "a": 3}]


def test_settings_refuse_what_cannot_work() -> None:
    with pytest.raises(lathe.errors.UsageError, match="three different queues"):
        StreamSettings("m", "amqp://h/", "q", "q")
    with pytest.raises(lathe.errors.UsageError, match="--batch"):
        StreamSettings("m", "amqp://h/", "a", "b", batch=0)
    assert StreamSettings("m", "amqp://h/", "a", "b", batch=10).prefetch == 40


@pytest.fixture(scope="module")
def predictor(tmp_path_factory: pytest.TempPathFactory) -> Any:
    frame = pd.read_csv(ADULT, nrows=600)
    model = lathe.train(frame, target="income", threads=1, params={"n_estimators": 10})
    path = model.save(tmp_path_factory.mktemp("m") / "adult")
    return load_predictor("adult", "v1", Path(path))


def test_a_batch_scores_like_the_server_and_refuses_bad_rows(predictor: Any) -> None:
    rows = pd.read_csv(ADULT, nrows=5).drop(columns="income").to_dict("records")
    bodies = [json.dumps({"id": f"r{i}", "row": row}).encode() for i, row in enumerate(rows)]
    bodies.append(b'{"id": "bad", "row": {"age": 40}}')  # fields missing
    bodies.append(json.dumps({"id": "many", "rows": rows[:2]}).encode())
    outputs, dead = score_batch(predictor, bodies, "q.in")
    assert [i for i, _ in dead] == [5]
    assert dead[0][1]["id"] == "bad" and dead[0][1]["error"]["type"] == "SchemaMismatch"
    assert "missing field" in dead[0][1]["error"]["message"]
    expected = predictor.predict_rows(rows)
    flat = {o["id"]: o for _, _, outs in outputs for o in outs}
    for i, answer in enumerate(expected):
        assert flat[f"r{i}"]["prediction"] == answer["label"]
        assert flat[f"r{i}"]["probabilities"] == answer["probabilities"]
        assert flat[f"r{i}"]["version"] == "v1"
    assert flat["many:1"]["probabilities"] == expected[1]["probabilities"]
