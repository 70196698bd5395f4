"""`lathe stream` end to end against the real brokers: every id gets its output with the
model's prediction, bad messages land in the dead-letter queue with their reason, and the
outputs equal what the server's predictor answers for the same rows."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from lathe.serving.predictor import load_predictor


def test_every_message_is_scored_or_dead_lettered(
    broker: Any, names: dict[str, str], stream_model: Path, adult_rows: list[dict[str, Any]],
    tools: Any,
) -> None:
    rows = adult_rows[:300]
    bodies = tools.messages(rows)
    bodies[10] = b"{not json"
    bodies[20] = json.dumps({"row": rows[20]}).encode()  # no id
    bad_row = dict(rows[30], age="forty")  # a value of the wrong type: the schema refuses it
    bodies[30] = json.dumps({"id": "m30", "row": bad_row}).encode()
    bodies.append(json.dumps({"id": "multi", "rows": rows[:3]}).encode())
    broker.clear(*names.values())
    broker.send(names["in"], bodies)

    done = subprocess.run(tools.command(stream_model, broker.kind, names, "--batch", "64",
                                        "--idle-exit", "2", "--json"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["messages"] == 301 and summary["dead_letters"] == 3
    outputs = [item for message in broker.read_json(names["out"])
               for item in (message if isinstance(message, list) else [message])]
    by_id = {o["id"]: o for o in outputs}
    expected = {f"m{i}" for i in range(300)} - {"m10", "m20", "m30"} | {
        "multi:0", "multi:1", "multi:2"}
    assert set(by_id) == expected

    predictor = load_predictor("adult", summary["version"], stream_model)
    answers = predictor.predict_rows(rows[:5])
    for i, answer in enumerate(answers):
        out = by_id[f"m{i}"]
        assert out["prediction"] == answer["label"]
        assert out["probabilities"] == answer["probabilities"]
        assert (out["model"], out["version"]) == ("adult", summary["version"])

    letters = broker.read_json(names["dlq"])
    assert len(letters) == 3
    by_type = {letter["error"]["type"]: letter for letter in letters}
    assert by_type["SchemaMismatch"]["id"] == "m30"
    assert by_type["SchemaMismatch"]["error"]["details"]["field"] == "age"
    reasons = sorted(letter["error"]["message"] for letter in letters
                     if letter["error"]["type"] == "BadMessage")
    assert reasons[0].startswith('the message has no "id"')
    assert reasons[1].startswith("the message is not valid JSON")
    assert {letter["source"] for letter in letters} == {names["in"]}
    broker.clear(*names.values())


def test_a_broker_that_does_not_answer_is_one_line_and_exit_69(
    stream_model: Path, tools: Any) -> None:
    names = {"in": "x.in", "out": "x.out", "dlq": "x.dlq"}
    command = tools.command(stream_model, "rabbit", names, "--give-up-after", "2")
    command[command.index("--source") + 1] = "amqp://guest:guest@127.0.0.1:1/"
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 69, done.stderr
    lines = done.stderr.strip().splitlines()
    assert "does not answer" in lines[-1] and "Traceback" not in done.stderr
    assert "guest:guest" not in done.stderr  # the password is not shown
