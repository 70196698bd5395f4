"""Checksums and value checks that tell real identifiers from look-alikes.

>>> luhn_ok("4539 1488 0343 6467"), luhn_ok("4539 1488 0343 6468")
(True, False)
>>> cn_id_ok("11010519491231002X"), cn_id_ok("110105194912310021")
(True, False)
>>> ipv4_ok("192.168.0.1"), ipv4_ok("256.1.1.1"), ipv4_ok("01.2.3.4")
(True, False, False)
"""

from __future__ import annotations

import datetime as _dt

__all__ = ["digits", "luhn_ok", "cn_id_ok", "cn_id_check_char", "ipv4_ok"]

_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_ID_CHECK = "10X98765432"
# first digit of the administrative division code (GB/T 2260): 1-6 mainland regions,
# 7 Taiwan (71), 8 Hong Kong/Macao/Taiwan residence permits (81, 82, 83)
_CN_ID_REGIONS = frozenset("12345678")


def digits(text: str) -> str:
    """The digits of `text`, separators dropped."""
    return "".join(ch for ch in text if ch.isdigit())


def luhn_ok(text: str) -> bool:
    """The Luhn (mod 10) check of ISO/IEC 7812 that payment card numbers carry."""
    number = digits(text)
    if len(number) < 12:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def cn_id_check_char(first17: str) -> str:
    """The check character of a resident identity number (GB 11643-1999, ISO 7064 MOD 11-2)."""
    total = sum(int(c) * w for c, w in zip(first17, _CN_ID_WEIGHTS, strict=True))
    return _CN_ID_CHECK[total % 11]


def cn_id_ok(text: str) -> bool:
    """An 18-character resident identity number: region digit, a real birth date (1850 on,
    not in the future) and the MOD 11-2 check character."""
    value = text.strip().upper()
    if len(value) != 18 or not value[:17].isdigit() or value[0] not in _CN_ID_REGIONS:
        return False
    try:
        born = _dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1850 or born > _dt.date.today():
        return False
    return cn_id_check_char(value[:17]) == value[17]


def ipv4_ok(text: str) -> bool:
    """Four decimal octets 0-255 without leading zeros."""
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for part in parts:
        if not part.isdigit() or len(part) > 3 or (len(part) > 1 and part[0] == "0"):
            return False
        if int(part) > 255:
            return False
    return True
