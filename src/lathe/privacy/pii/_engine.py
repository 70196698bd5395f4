"""Find PII in a text and replace it: `detect` returns typed spans, `Masker` rewrites them.

Overlapping matches keep the longer span (then the recognizer listed first), so a URL keeps
the IP address inside it and an ID number is not also read as a phone number.

>>> [(m.entity, m.text) for m in detect("mail li.lei@example.cn or call 138 0013 8000")]
[('EMAIL_ADDRESS', 'li.lei@example.cn'), ('CN_MOBILE', '138 0013 8000')]
>>> Masker("redact").mask("订单号 20231105123456789, 电话 (010) 6552-9988")
'订单号 20231105123456789, 电话 <CN_LANDLINE>'
>>> m = Masker("pseudonym"); m.mask("a@b.io, c@d.io, a@b.io")
'<EMAIL_ADDRESS_1>, <EMAIL_ADDRESS_2>, <EMAIL_ADDRESS_1>'
>>> Masker("hash", key=b"k").mask("ip 10.0.0.1")
'ip <IP_ADDRESS:eec09bde120b>'
>>> mask_json({"rows": [{"phone": 13800138000, "note": "ok", "n": 3}]}, Masker("redact"))
{'rows': [{'phone': '<CN_MOBILE>', 'note': 'ok', 'n': 3}]}
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from lathe.errors import UsageError
from lathe.privacy.pii._recognizers import ENTITIES, RECOGNIZERS, text_holds

__all__ = ["PiiMatch", "detect", "Masker", "MaskMode", "MODES", "mask_json"]

MaskMode = Literal["redact", "hash", "pseudonym"]
MODES: tuple[str, ...] = ("redact", "hash", "pseudonym")


@dataclass(frozen=True)
class PiiMatch:
    entity: str
    start: int
    end: int
    text: str


def detect(text: str, entities: Iterable[str] | None = None) -> list[PiiMatch]:
    """The PII in `text`, in order, without overlaps (optionally only some `entities`)."""
    if not text:
        return []
    wanted = None if entities is None else set(entities)
    if wanted is not None and (unknown := wanted - set(ENTITIES)):
        raise UsageError(f"unknown PII type(s) {sorted(unknown)}",
                         hint=f"choose from {', '.join(ENTITIES)}")
    holds = text_holds(text)
    if not holds:
        return []
    found: list[tuple[int, int, int, str]] = []
    for rank, recognizer in enumerate(RECOGNIZERS):
        if recognizer.needs not in holds:
            continue
        if wanted is not None and recognizer.entity not in wanted:
            continue
        for start, end in recognizer.find(text):
            found.append((start, end, rank, recognizer.entity))
    if not found:
        return []
    # longest first, then the recognizer listed first; keep what does not overlap a keeper
    found.sort(key=lambda f: (-(f[1] - f[0]), f[2], f[0]))
    kept: list[tuple[int, int, int, str]] = []
    for cand in found:
        if all(cand[1] <= k[0] or cand[0] >= k[1] for k in kept):
            kept.append(cand)
    kept.sort()
    return [PiiMatch(entity, start, end, text[start:end]) for start, end, _, entity in kept]


class Masker:
    """Replace PII in texts: `redact` -> `<TYPE>`, `hash` -> `<TYPE:hmac>` (HMAC-SHA256 under
    `key`, the same value gives the same token in every run with that key), `pseudonym` ->
    `<TYPE_n>` (the same value gives the same n within this Masker). The tokens hold no PII,
    so a masked text is clean when scanned again; every other character is kept."""

    def __init__(self, mode: str = "redact", *, key: bytes | None = None,
                 entities: Iterable[str] | None = None) -> None:
        if mode not in MODES:
            raise UsageError(f"unknown mask mode {mode!r}", hint=f"choose {'|'.join(MODES)}")
        self.mode = mode
        self.key_given = key is not None
        self.key = key if key is not None else secrets.token_bytes(32)
        self.entities = None if entities is None else list(entities)
        self._pseudonyms: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}
        self.masked: dict[str, int] = {}  # matches replaced, by type

    def token(self, entity: str, value: str) -> str:
        self.masked[entity] = self.masked.get(entity, 0) + 1
        if self.mode == "redact":
            return f"<{entity}>"
        if self.mode == "hash":
            digest = hmac.new(self.key, value.encode("utf-8"), hashlib.sha256).hexdigest()
            return f"<{entity}:{digest[:12]}>"
        key = (entity, value)
        if key not in self._pseudonyms:
            self._counts[entity] = self._counts.get(entity, 0) + 1
            self._pseudonyms[key] = f"<{entity}_{self._counts[entity]}>"
        return self._pseudonyms[key]

    def mask(self, text: str) -> str:
        matches = detect(text, self.entities)
        if not matches:
            return text
        parts, at = [], 0
        for m in matches:
            parts += [text[at:m.start], self.token(m.entity, m.text)]
            at = m.end
        parts.append(text[at:])
        return "".join(parts)


def mask_json(value: Any, masker: Masker) -> Any:
    """A parsed JSON value with the PII of every string (and of every integer that reads as
    PII, such as a phone number sent as a number) masked; keys and structure kept."""
    if isinstance(value, str):
        return masker.mask(value)
    if isinstance(value, dict):
        return {k: mask_json(v, masker) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_json(v, masker) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**6:
        text = str(value)
        masked = masker.mask(text)
        return value if masked == text else masked
    return value
