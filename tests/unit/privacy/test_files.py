"""`lathe check --pii` and `lathe privacy mask` over files: every row kept in order, every
byte outside the masked cells kept, clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lathe.cli import main
from lathe.privacy.files import mask_file, scan_file
from lathe.privacy.pii import detect

RAW = (
    '\ufeffid,note,amount,contact\r\n'
    '001,"Call (415) 555-0123, ask for ""Sam""",12.50,li.lei@example.cn\r\n'
    '002,订单号 20231105123456789 已发货,1e3,\r\n'
    '003,"手机 138 0013 8000\r\n身份证 11010519491231002X",  7 ,"+86 10 6552 9988"\r\n'
    '004,,0.10,no contact\r\n'
)


@pytest.fixture
def tickets(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.csv"
    path.write_bytes(RAW.encode("utf-8"))
    return path


def _cells(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def test_scan_reports_columns_types_and_masked_examples(tickets: Path) -> None:
    report = scan_file(tickets)
    assert set(report["columns"]) == {"note", "contact"}
    assert report["columns"]["note"]["types"] == {
        "CN_MOBILE": 1, "CN_RESIDENT_ID": 1, "PHONE_NUMBER": 1}
    assert report["columns"]["contact"]["types"] == {"CN_LANDLINE": 1, "EMAIL_ADDRESS": 1}
    for example in report["columns"]["note"]["examples"]:
        assert not detect(example)  # examples are shown masked


def test_mask_keeps_rows_order_and_other_columns_byte_for_byte(tickets: Path,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "masked.csv"
    result = mask_file(tickets, out, columns=["note"])
    assert result["rows"] == 4 and result["masked"] == {
        "CN_MOBILE": 1, "CN_RESIDENT_ID": 1, "PHONE_NUMBER": 1}
    before, after = _cells(tickets), _cells(out)
    assert list(after.columns) == list(before.columns) and len(after) == len(before)
    for col in ("id", "amount", "contact"):
        assert after[col].tolist() == before[col].tolist()
    raw = out.read_bytes().decode("utf-8")
    assert raw.startswith("\ufeff") and raw.count("\r\n") == RAW.count("\r\n")
    assert '"Call <PHONE_NUMBER>, ask for ""Sam"""' in raw and ",  7 ," in raw
    assert raw.replace("<PHONE_NUMBER>", "(415) 555-0123").replace(
        "<CN_MOBILE>", "138 0013 8000").replace("<CN_RESIDENT_ID>", "11010519491231002X") == RAW
    assert not scan_file(out, columns=["note"])["found"]


def test_mask_jsonl_and_parquet(tmp_path: Path) -> None:
    rows = [{"id": 1, "text": "mail a.b@example.com"}, {"id": 2, "text": "nothing"}]
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows)
                     + '{"price":1.50,"city":"\\u5317\\u4eac","text":"\\u7535\\u8bdd 13800138000"}\r\n')
    mask_file(jsonl, tmp_path / "m.jsonl", columns=["text"])
    lines = (tmp_path / "m.jsonl").read_text().splitlines()
    assert json.loads(lines[0]) == {"id": 1, "text": "mail <EMAIL_ADDRESS>"}
    assert lines[1] == json.dumps(rows[1])
    # the other keys keep their bytes (compact separators, 1.50, \\u escapes)
    assert lines[2] == '{"price":1.50,"city":"\\u5317\\u4eac","text":"\\u7535\\u8bdd <CN_MOBILE>"}'
    assert (tmp_path / "m.jsonl").read_bytes().endswith(b'<CN_MOBILE>"}\r\n')
    pq = tmp_path / "t.parquet"
    pd.DataFrame(rows).to_parquet(pq)
    mask_file(pq, tmp_path / "m.parquet", columns=["text"], mode="pseudonym")
    assert pd.read_parquet(tmp_path / "m.parquet")["text"].tolist() == [
        "mail <EMAIL_ADDRESS_1>", "nothing"]


def test_cli_check_pii_json_and_mask(tickets: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tickets), "--pii", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["pii"]["found"] and "note" in payload["pii"]["columns"]
    out = tmp_path / "m.csv"
    assert main(["privacy", "mask", str(tickets), "--out", str(out), "--columns", "note,contact",
                 "--mode", "hash", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["columns"] == ["note", "contact"] and result["rows"] == 4
    assert not scan_file(out)["found"]


def test_cli_bad_input_one_line_and_nothing_written(tickets: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.csv"
    assert main(["privacy", "mask", str(tickets), "--out", str(out), "--columns", "notes"]) == 65
    err = capsys.readouterr().err
    assert "no column 'notes'" in err and "note" in err and not out.exists()
    assert main(["privacy", "mask", str(tickets), "--out", str(out), "--mode", "rot13"]) == 2
    assert not out.exists()
    assert main(["privacy", "mask", str(tmp_path / "nope.csv"), "--out", str(out)]) == 66
