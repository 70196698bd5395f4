"""A mixed English/Chinese PII test set built from the patterns' specifications (no real
person's data): every value is generated to its format and checksum, wrapped in short
sentences, beside look-alikes that are not PII (order numbers, failed checksums, prices,
dates, versions, quantities). Shared by the unit tests and bench/privacy.py."""

from __future__ import annotations

import random

from lathe.privacy.pii._checks import cn_id_check_char, luhn_ok

TEMPLATES_EN = ["Please contact {} today.", "my {} is on file", "Reach me: {} (after 6pm)",
                "Customer wrote {}, then closed the ticket."]
TEMPLATES_ZH = ["请联系{}。", "客户留下的信息：{}，请核实", "号码 {} 已登记", "备注：{}"]
LOOKALIKES = [
    "order no. {o}", "订单号 {o} 已发货", "price $1,{d3}.{d2}", "价格 ¥{d3}.{d2}", "due 2024-0{m}-1{m}",
    "日期 2023年{m}月1{m}日", "version {m}.{d2}.{d3}.{m}", "版本 v{m}.{m}.{d2}.{m}", "qty {d3} pcs",
    "数量 {d3} 件", "ID {bad_id}", "card {bad_card}", "tracking {o}", "room 1{d3}, floor 1{m}",
]


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


def _cn_id(rng: random.Random) -> str:
    region = rng.choice(["110105", "310104", "440305", "510107", "330106"])
    born = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first = region + born + f"{rng.randint(0, 999):03d}"
    return first + cn_id_check_char(first)


def _digits(n: int, rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def make_value(entity: str, rng: random.Random) -> str:
    if entity == "EMAIL_ADDRESS":
        return f"{rng.choice(['li.wei', 'j.doe', 'zhang_san', 'ops-team'])}{rng.randint(1, 99)}@" \
               f"{rng.choice(['example.com', 'example.cn', 'mail.example.org'])}"
    if entity == "URL":
        return f"https://{rng.choice(['example.com', 'shop.example.cn'])}/u/{rng.randint(1, 9999)}"
    if entity == "IP_ADDRESS":
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    if entity == "CREDIT_CARD":
        prefix, length = rng.choice([("4", 16), ("51", 16), ("37", 15), ("6011", 16)])
        number = _luhn_complete(prefix, length, rng)
        if length == 16 and rng.random() < 0.5:
            return " ".join(number[i:i + 4] for i in range(0, 16, 4))
        return number
    if entity == "PHONE_NUMBER":
        area, mid, last = rng.choice(["415", "212", "646", "617"]), rng.randint(200, 999), \
            rng.randint(0, 9999)
        return rng.choice([f"({area}) {mid}-{last:04d}", f"{area}-{mid}-{last:04d}",
                           f"+1 {area} {mid} {last:04d}", "+44 20 7946 0" + f"{last % 1000:03d}"])
    if entity == "CN_MOBILE":
        number = rng.choice(["138", "139", "150", "186", "177"]) + _digits(8, rng)
        return rng.choice([number, f"+86 {number}", f"{number[:3]} {number[3:7]} {number[7:]}",
                           f"{number[:3]}-{number[3:7]}-{number[7:]}"])
    if entity == "CN_LANDLINE":
        area = rng.choice(["010", "021", "0755", "0571"])
        local = str(rng.randint(2, 9)) + _digits(7 if len(area) == 3 else 6, rng)
        return rng.choice([f"{area}-{local}", f"({area}) {local}", f"+86 {area[1:]} {local}"])
    if entity == "CN_RESIDENT_ID":
        return _cn_id(rng)
    if entity == "CN_BANK_CARD":
        number = _luhn_complete(rng.choice(["6222", "6217", "6228"]), rng.choice([16, 19]), rng)
        return number if rng.random() < 0.5 else " ".join(
            number[i:i + 4] for i in range(0, len(number), 4))
    raise KeyError(entity)


def lookalike(rng: random.Random) -> str:
    bad_id = _cn_id(rng)
    bad_id = bad_id[:17] + ("0" if bad_id[17] != "0" else "1")
    good = _luhn_complete("4", 16, rng)
    bad_card = good[:15] + str((int(good[15]) + 1) % 10)
    return rng.choice(LOOKALIKES).format(
        o=_digits(rng.choice([12, 16, 18]), rng), d3=_digits(3, rng), d2=_digits(2, rng),
        m=rng.randint(1, 9), bad_id=bad_id, bad_card=bad_card)


def make_cases(n_per_type: int, seed: int = 0) -> list[tuple[str, list[tuple[str, str]]]]:
    """(text, [(entity, value), ...]) pairs: each PII value in an English or Chinese
    sentence, half of them beside a look-alike, plus as many texts holding only look-alikes."""
    from lathe.privacy.pii import ENTITIES

    rng = random.Random(seed)
    cases: list[tuple[str, list[tuple[str, str]]]] = []
    for entity in ENTITIES:
        for i in range(n_per_type):
            value = make_value(entity, rng)
            template = rng.choice(TEMPLATES_ZH if i % 2 else TEMPLATES_EN)
            text = template.format(value)
            if rng.random() < 0.5:
                text = f"{lookalike(rng)}; {text}"
            cases.append((text, [(entity, value)]))
    for _ in range(n_per_type * 2):
        cases.append((lookalike(rng), []))
    return cases


def score(cases: list[tuple[str, list[tuple[str, str]]]]) -> dict[str, dict[str, float]]:
    """Precision and recall by type, matching a found span's type and exact text."""
    from lathe.privacy.pii import ENTITIES, detect

    tp = dict.fromkeys(ENTITIES, 0)
    fp = dict.fromkeys(ENTITIES, 0)
    fn = dict.fromkeys(ENTITIES, 0)
    for text, truth in cases:
        found = {(m.entity, m.text) for m in detect(text)}
        expected = set(truth)
        for e, _ in found & expected:
            tp[e] += 1
        for e, _ in found - expected:
            fp[e] += 1
        for e, _ in expected - found:
            fn[e] += 1
    return {e: {"precision": tp[e] / max(1, tp[e] + fp[e]), "recall": tp[e] / max(1, tp[e] + fn[e]),
                "support": tp[e] + fn[e]} for e in ENTITIES}
