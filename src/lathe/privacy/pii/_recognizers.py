"""The recognizers: one regular expression per kind of PII, a validator that rejects
look-alikes (checksums, value ranges, libphonenumber) and words around a match that say it
is not PII (order numbers, versions, tracking codes).

Types (the names Microsoft Presidio uses where it has one):
EMAIL_ADDRESS, URL, IP_ADDRESS (IPv4), CREDIT_CARD (Luhn + issuer prefix and length),
PHONE_NUMBER (US formats and any +country number libphonenumber calls valid),
CN_MOBILE (mainland 1[3-9]x, with or without +86 and 3-4-4 spacing), CN_LANDLINE (an area
code 0xx/0xxx then 7-8 digits), CN_RESIDENT_ID (18 characters, birth date and MOD 11-2 check),
CN_BANK_CARD (UnionPay 62 prefix, 16-19 digits, Luhn).

>>> [r.entity for r in RECOGNIZERS][:3]
['EMAIL_ADDRESS', 'URL', 'IP_ADDRESS']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lathe.privacy.pii._checks import cn_id_ok, digits, ipv4_ok, luhn_ok

__all__ = ["Recognizer", "RECOGNIZERS", "ENTITIES", "text_holds"]

# a match right after one of these words is an order/tracking/invoice/version number
_NOT_PII_BEFORE = re.compile(
    r"(?:order|invoice|tracking|ticket|sku|ref(?:erence)?|serial|version|ver\.?|build|"
    r"订单|单号|编号|流水号|快递|运单|版本|型号|发票)\s*(?:no\.?|number|#|号|码)?\s*[:：#]?\s*$",
    re.IGNORECASE,
)
# no ASCII letter or digit may touch a number on either side (Chinese characters may: `\w`
# would match them, and Chinese text writes numbers with no space around them)
# nor may another group of digits, as in a longer number written in groups
_B = r"(?<![A-Za-z0-9_.\-+])(?<!\d[ \-])"
_E = r"(?![A-Za-z0-9_\-]|\.\d|[ \-]\d)"


@dataclass(frozen=True)
class Recognizer:
    """One kind of PII: a compiled pattern and a validator of the matched text."""

    entity: str
    pattern: re.Pattern[str]
    validate: Callable[[str], bool] = field(default=lambda _: True)
    # check the words before a match for "order no." and the like
    negative_context: bool = False
    # what the text must hold for the pattern to be tried ("digit", "@", "url"; see
    # `text_holds`, computed once per text)
    needs: str = "digit"

    def find(self, text: str) -> list[tuple[int, int]]:
        spans = []
        for match in self.pattern.finditer(text):
            value = match.group(0)
            if not self.validate(value):
                continue
            if self.negative_context and _NOT_PII_BEFORE.search(text[max(0, match.start() - 24):
                                                                       match.start()]):
                continue
            spans.append((match.start(), match.end()))
        return spans


_DIGIT = re.compile(r"\d")


def text_holds(text: str) -> set[str]:
    """The cheap facts about a text that decide which recognizers can match it."""
    holds = set()
    if _DIGIT.search(text):
        holds.add("digit")
    if "@" in text:
        holds.add("@")
    if "://" in text or "www." in text.lower():
        holds.add("url")
    return holds


def _card_ok(value: str) -> bool:
    number = digits(value)
    n = len(number)
    if not luhn_ok(number) or number.startswith("62"):
        return False
    p2, p3, p4 = int(number[:2]), int(number[:3]), int(number[:4])
    return ((number[0] == "4" and n in (13, 16, 19)) or (51 <= p2 <= 55 and n == 16)
            or (2221 <= p4 <= 2720 and n == 16) or (p2 in (34, 37) and n == 15)
            or ((p4 == 6011 or p2 == 65 or 644 <= p3 <= 649) and 16 <= n <= 19)
            or (3528 <= p4 <= 3589 and 16 <= n <= 19) or ((p2 == 36 or 300 <= p3 <= 305)
                                                         and n == 14))


def _cn_bank_ok(value: str) -> bool:
    number = digits(value)
    return number.startswith("62") and 16 <= len(number) <= 19 and luhn_ok(number)


def _phone_ok(value: str) -> bool:
    try:
        import phonenumbers
    except ImportError as err:  # pragma: no cover - the privacy extra is installed here
        from lathe.errors import MissingDependency

        raise MissingDependency("phone numbers are checked with libphonenumber",
                                hint="pip install 'lathe[privacy]'") from err

    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        return False
    # +86 numbers are the CN recognizers' (typed as mobile or landline)
    return number.country_code != 86 and phonenumbers.is_valid_number(number)


def _cn_landline_ok(value: str) -> bool:
    number = digits(value)
    if number.startswith("86"):
        number = "0" + number[2:]
    elif number.startswith("0086"):
        number = "0" + number[4:]
    return 10 <= len(number) <= 12 and not number.startswith("01" + "1")


_SEP = r"[ \-]?"
RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer("EMAIL_ADDRESS", re.compile(
        r"(?<![A-Za-z0-9_.+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}"
        r"[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9_\-])"), needs="@"),
    Recognizer("URL", re.compile(
        r"(?:https?://|www\.)[^\s<>\"'，。、；：！？（）【】]+[^\s<>\"'.,;:!?)\]，。、；：！？（）【】]",
        re.IGNORECASE), needs="url"),
    Recognizer("IP_ADDRESS", re.compile(_B + r"\d{1,3}(?:\.\d{1,3}){3}" + _E), ipv4_ok,
               negative_context=True),
    Recognizer("CN_RESIDENT_ID", re.compile(_B + r"[1-8]\d{16}[\dXx]" + _E), cn_id_ok,
               negative_context=True),
    Recognizer("CN_BANK_CARD", re.compile(
        _B + r"62\d{2}(?:[ \-]?\d{4}){3}(?:[ \-]?\d{1,3})?" + _E), _cn_bank_ok,
        negative_context=True),
    Recognizer("CREDIT_CARD", re.compile(
        _B + r"(?:\d{4}[ \-]?\d{6}[ \-]?\d{4,5}|\d{4}(?:[ \-]?\d{4}){2}[ \-]?\d{1,7})" + _E),
        _card_ok, negative_context=True),
    Recognizer("CN_MOBILE", re.compile(
        r"(?:(?<![A-Za-z0-9_.\-+])(?:\+|00)86[ \-]?|" + _B + r")1[3-9]\d" + _SEP + r"\d{4}" + _SEP + r"\d{4}" + _E),
        negative_context=True),
    Recognizer("CN_LANDLINE", re.compile(
        r"(?:(?:\+|00)86[ \-]?\(?0?(?:10|2\d|[3-9]\d{2})\)?|\(0(?:10|2\d|[3-9]\d{2})\)|"
        + _B + r"0(?:10|2\d|[3-9]\d{2}))[ \-]?[2-9]\d{2,3}[ \-]?\d{4}" + _E),
        _cn_landline_ok, negative_context=True),
    Recognizer("PHONE_NUMBER", re.compile(
        r"(?:\+\d{1,3}[ .\-]?(?:\(?\d{1,4}\)?[ .\-]?){1,4}\d{2,4}" + _E
        + r"|\(\d{3}\)[ .\-]?\d{3}[ .\-]\d{4}" + _E
        + r"|" + _B + r"(?:1[ .\-])?\d{3}[.\-]\d{3}[.\-]\d{4}" + _E + ")"),
        _phone_ok, negative_context=True),
)
ENTITIES: tuple[str, ...] = tuple(r.entity for r in RECOGNIZERS)
