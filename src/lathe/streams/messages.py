"""The stream's message contract, as pure functions: decode an input, shape outputs and
dead letters.

An input message is a JSON object, one of::

    {"id": "a-1", "row": {"age": 41, ...}}
    {"id": "b-7", "rows": [{"id": "b-7.0", "row": {...}}, {"id": "b-7.1", "row": {...}}]}
    {"id": "b-8", "rows": [{...}, {...}]}            # rows without ids: "b-8:0", "b-8:1"

Every row ends with an id: its own (``{"id", "row"}`` items, or an ``"id"`` field of a plain
row object), else ``MESSAGE_ID:INDEX`` for a ``rows`` message. The id is what makes output
idempotent: a row scored twice (redelivery after a crash) yields two outputs with the same
id, and a reader keeps the first. Anything else (not JSON, not an object, no id, an empty
``rows``) is a `BadMessage`, sent to the dead-letter queue with the reason.

>>> decode(b'{"id": "a-1", "row": {"x": 1}}')
Decoded(message_id='a-1', ids=['a-1'], rows=[{'x': 1}], many=False)
>>> decode(b'{"id": "b", "rows": [{"x": 1}, {"id": "r2", "x": 2}]}').ids
['b:0', 'r2']
>>> decode(b'{"row": {}}')
Traceback (most recent call last):
...
lathe.streams.messages.BadMessage: the message has no "id" (a non-empty string or number)
>>> output("a-1", {"label": ">50K", "probabilities": {"<=50K": 0.2, ">50K": 0.8}}, "adult", "v3")
{'id': 'a-1', 'prediction': '>50K', 'probabilities': {'<=50K': 0.2, '>50K': 0.8}, 'model': 'adult', 'version': 'v3'}
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["BadMessage", "Decoded", "decode", "output", "dead_letter"]

_MAX_SHOWN = 2000  # characters of a bad message kept in its dead letter


class BadMessage(ValueError):
    """A message that can never be scored (retrying it cannot help): dead-letter it."""


@dataclass
class Decoded:
    message_id: str
    ids: list[str]
    rows: list[Any]
    many: bool  # a "rows" message: its outputs are one JSON array


def _id_of(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise BadMessage(f'{where} has no "id" (a non-empty string or number)')
    return str(value)


def decode(body: bytes | str) -> Decoded:
    """The rows of one input message and their ids, or `BadMessage` saying what is wrong."""
    try:
        message = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadMessage(f"the message is not valid JSON: {error}") from None
    if not isinstance(message, dict):
        raise BadMessage(
            f'the message must be a JSON object {{"id": ..., "row": {{...}}}}, '
            f"got a JSON {type(message).__name__}"
        )
    message_id = _id_of(message.get("id"), "the message")
    if "row" in message:
        row = message["row"]
        if not isinstance(row, dict):
            raise BadMessage(f'"row" must be a JSON object of field: value, got {_kind(row)}')
        return Decoded(message_id, [message_id], [row], many=False)
    rows = message.get("rows")
    if not isinstance(rows, list) or not rows:
        raise BadMessage('the message needs "row": {...} or a non-empty "rows": [...]')
    ids, plain = [], []
    for i, item in enumerate(rows):
        if not isinstance(item, dict):
            raise BadMessage(f"rows[{i}] must be a JSON object, got {_kind(item)}")
        if "row" in item and isinstance(item["row"], dict):
            ids.append(_id_of(item.get("id"), f"rows[{i}]"))
            plain.append(item["row"])
        else:
            ids.append(_id_of(item["id"], f"rows[{i}]") if "id" in item else f"{message_id}:{i}")
            plain.append(item)
    return Decoded(message_id, ids, plain, many=True)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def output(row_id: str, answer: dict[str, Any], model: str, version: str) -> dict[str, Any]:
    """One output object: the row's id, the prediction (label or value), the class
    probabilities for a classifier, and the model and version that made it."""
    out: dict[str, Any] = {"id": row_id}
    if "label" in answer:
        out["prediction"] = answer["label"]
        out["probabilities"] = answer["probabilities"]
    else:
        out["prediction"] = answer["value"]
    out["model"], out["version"] = model, version
    return out


def dead_letter(
    body: bytes | str, error: Exception, *, source: str, model: str, message_id: str | None
) -> dict[str, Any]:
    """The dead letter of a message: why it was refused, and the message itself (its first
    2,000 characters) so that it can be fixed and sent again.

    >>> d = dead_letter(b"{oops", BadMessage("not JSON"), source="q.in", model="m", message_id=None)
    >>> d["error"], d["message"], d["source"]
    ({'type': 'BadMessage', 'message': 'not JSON'}, '{oops', 'q.in')
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    reason: dict[str, Any] = {"type": type(error).__name__, "message": getattr(error, "message", None) or str(error)}
    details = getattr(error, "details", None)
    if details:
        reason["details"] = {k: v for k, v in details.items() if isinstance(v, str | int | float)}
    hint = getattr(error, "hint", None)
    if hint:
        reason["hint"] = hint
    return {
        "id": message_id,
        "error": reason,
        "message": text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "...",
        "truncated": len(text) > _MAX_SHOWN,
        "source": source,
        "model": model,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
