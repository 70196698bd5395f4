"""PII recognizers on published examples and generated cases; look-alikes are not PII."""

from __future__ import annotations

import pytest

from lathe.errors import UsageError
from lathe.privacy.pii import ENTITIES, Masker, detect
from lathe.privacy.pii._checks import cn_id_ok, luhn_ok

from .pii_cases import make_cases, score


@pytest.mark.parametrize("value", [
    "11010519491231002X",  # GB 11643-1999's own example
    "440524188001010014",  # the example number of the standard's Wikipedia article
])
def test_published_resident_ids_pass_their_checksum(value: str) -> None:
    assert cn_id_ok(value)
    assert [m.entity for m in detect(f"身份证号码：{value}。")] == ["CN_RESIDENT_ID"]


@pytest.mark.parametrize("value", [
    "4111 1111 1111 1111", "5555555555554444", "378282246310005", "6011111111111117",
])
def test_published_test_card_numbers_are_cards(value: str) -> None:
    # the issuers' published test numbers (Visa, Mastercard, Amex, Discover)
    assert luhn_ok(value)
    assert [(m.entity, m.text) for m in detect(f"card {value} exp 12/29")] == [
        ("CREDIT_CARD", value)]


@pytest.mark.parametrize("text,entity", [
    ("(415) 555-0123", "PHONE_NUMBER"), ("212-555-0123", "PHONE_NUMBER"),
    ("+1 646 555 0123", "PHONE_NUMBER"), ("+44 20 7946 0958", "PHONE_NUMBER"),
    ("13800138000", "CN_MOBILE"), ("+86 138 0013 8000", "CN_MOBILE"),
    ("010-65529988", "CN_LANDLINE"), ("(0755) 8888 6666", "CN_LANDLINE"),
    ("6222021234567894", "CN_BANK_CARD"), ("192.168.10.1", "IP_ADDRESS"),
    ("https://example.com/a?b=1", "URL"), ("wang.fang@example.cn", "EMAIL_ADDRESS"),
])
def test_each_type_in_english_and_chinese_sentences(text: str, entity: str) -> None:
    for sentence in (f"Please call {text} today.", f"请联系{text}，谢谢"):
        assert [(m.entity, m.text) for m in detect(sentence)] == [(entity, text)]


@pytest.mark.parametrize("text", [
    "order no. 4111111111111111", "订单号 20231105123456789", "price $1,234.56", "¥3,999.00",
    "due 2024-03-15", "2023年11月5日", "version 10.0.19041.1", "v1.2.3.4", "qty 1500 pcs",
    "身份证 110105194912310021",  # the check character fails
    "card 4111 1111 1111 1112",  # Luhn fails
    "13 boxes, 555 units", "ISBN 978-3-16-148410-0",
])
def test_look_alikes_are_not_pii(text: str) -> None:
    assert detect(text) == []


def test_generated_set_precision_and_recall_at_least_097_per_type() -> None:
    results = score(make_cases(150, seed=11))
    assert set(results) == set(ENTITIES)
    for entity, got in results.items():
        assert got["support"] == 150
        assert got["precision"] >= 0.97, (entity, got)
        assert got["recall"] >= 0.97, (entity, got)


@pytest.mark.parametrize("mode", ["redact", "hash", "pseudonym"])
def test_masking_leaves_no_pii_and_keeps_every_other_character(mode: str) -> None:
    masker = Masker(mode, key=b"0123456789abcdef")
    for text, truth in make_cases(20, seed=5):
        masked = masker.mask(text)
        assert detect(masked) == []
        # the text outside the PII is kept, in order
        rest = text
        for _, value in truth:
            rest = rest.replace(value, "\x00")
        for piece in rest.split("\x00"):
            assert piece in masked


def test_hash_is_keyed_and_pseudonyms_are_consistent() -> None:
    a = Masker("hash", key=b"k" * 16).mask("x@example.com")
    assert a == Masker("hash", key=b"k" * 16).mask("x@example.com")
    assert a != Masker("hash", key=b"j" * 16).mask("x@example.com")
    m = Masker("pseudonym")
    assert m.mask("x@example.com y@example.com x@example.com") == (
        "<EMAIL_ADDRESS_1> <EMAIL_ADDRESS_2> <EMAIL_ADDRESS_1>")


def test_unknown_mode_and_type_are_refused() -> None:
    with pytest.raises(UsageError, match="redact|hash|pseudonym"):
        Masker("scramble")
    with pytest.raises(UsageError, match="unknown PII type"):
        detect("x", entities=["SSN"])
