from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lathe.data.load import read_table
from lathe.errors import DataError, NotFound, UsageError


def test_reads_csv_parquet_and_jsonl_alike(tmp_path: Path, adult_small: pd.DataFrame) -> None:
    frame = adult_small.head(200)
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.to_parquet(tmp_path / "a.parquet", index=False)
    frame.to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    loaded = [read_table(tmp_path / f"a.{ext}") for ext in ("csv", "parquet", "jsonl")]
    for other in loaded:
        assert other.shape == frame.shape
        assert list(other.columns) == list(frame.columns)
        assert other["age"].tolist() == frame["age"].tolist()


def test_semicolon_csv_is_sniffed(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("a;b\n1;x\n2;y\n")
    assert list(read_table(tmp_path / "s.csv").columns) == ["a", "b"]


def test_chinese_utf8_and_gb18030(tmp_path: Path) -> None:
    text = "label,review\n1,酒店很好，服务周到\n0,房间太小了\n"
    (tmp_path / "u.csv").write_text(text, encoding="utf-8")
    assert read_table(tmp_path / "u.csv")["review"].iloc[0] == "酒店很好，服务周到"
    (tmp_path / "g.csv").write_bytes(text.encode("gb18030"))
    with pytest.raises(DataError, match=r"line 2 is not valid utf-8.*--encoding"):
        read_table(tmp_path / "g.csv")
    assert read_table(tmp_path / "g.csv", encoding="gb18030")["review"].iloc[1] == "房间太小了"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such file"):
        read_table(tmp_path / "nope.csv")


def test_empty_and_header_only(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_table(tmp_path / "e.csv")
    (tmp_path / "h.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="no data rows"):
        read_table(tmp_path / "h.csv")


def test_ragged_csv_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("a,b\n1,2\n3,4\n5,6,7\n")
    with pytest.raises(DataError, match="line 4 has 3 fields, the header has 2") as info:
        read_table(tmp_path / "r.csv")
    assert info.value.details["line"] == 4


def test_short_csv_row_names_the_line(tmp_path: Path) -> None:
    # a field missing in the middle shifts the rest of the row left: "x" would become b's value
    (tmp_path / "s.csv").write_text('a,b,c\n1,"two\nlines",3\n\n4,x\n5,6,7\n')
    with pytest.raises(DataError, match="line 5 has 2 fields, the header has 3") as info:
        read_table(tmp_path / "s.csv")
    assert info.value.details["line"] == 5
    # empty fields written out are values, not a short row
    (tmp_path / "ok.csv").write_text("a,b,c\n1,,\n4,5,\n")
    frame = read_table(tmp_path / "ok.csv")
    assert frame.shape == (2, 3) and frame["c"].isna().all()


def test_row_scan_reads_what_pandas_reads(tmp_path: Path) -> None:
    # lines of whitespace are blank lines to pandas, not rows of one field
    (tmp_path / "w.csv").write_text("a,b\n1,\n   \n2,3\n\t\n")
    assert read_table(tmp_path / "w.csv").shape == (2, 2)
    # old Mac line endings (CR only)
    (tmp_path / "cr.csv").write_bytes(b"a,b\r1,\r2,3\r")
    assert read_table(tmp_path / "cr.csv").shape == (2, 2)
    # a text cell longer than the csv module's default field limit (128 KiB)
    (tmp_path / "long.csv").write_text("t,b\n" + "x" * 200_000 + ",\ny,2\n")
    assert read_table(tmp_path / "long.csv").shape == (2, 2)
    # a delimiter at the end of the header: an unnamed empty column, nothing misaligned
    (tmp_path / "trail.csv").write_text("a,b,\n1,2\n3,4\n")
    assert read_table(tmp_path / "trail.csv")[["a", "b"]].to_numpy().tolist() == [[1, 2], [3, 4]]
    # tab-separated, one field short
    (tmp_path / "s.tsv").write_text("a\tb\tc\n1\t2\t3\n4\t5\n")
    with pytest.raises(DataError, match="line 3 has 2 fields, the header has 3"):
        read_table(tmp_path / "s.tsv")


def test_a_delimiter_ending_every_row_moves_no_value(tmp_path: Path) -> None:
    # pandas' default made the first column the index and shifted every value left
    (tmp_path / "t.csv").write_text("a,b\n1,2,\n4,5,\n")
    frame = read_table(tmp_path / "t.csv")
    assert frame.to_dict("list") == {"a": [1, 4], "b": [2, 5]}
    # a value beyond the header would be lost: refused, naming its line
    (tmp_path / "v.csv").write_text("a,b\n1,2,\n4,5,6\n")
    with pytest.raises(DataError, match="line 3 has 3 fields, the header has 2"):
        read_table(tmp_path / "v.csv")
    # ... the header line too: no empty "Unnamed: 2" column for the checks to block on
    (tmp_path / "h.csv").write_text("a,b,\n1,2,\n4,5\n")
    assert read_table(tmp_path / "h.csv").to_dict("list") == {"a": [1, 4], "b": [2, 5]}
    # a delimiter ending only some rows: pandas refused the file, though nothing is lost
    (tmp_path / "some.csv").write_text("a,b\n1,2\n4,5,\n")
    assert read_table(tmp_path / "some.csv").to_dict("list") == {"a": [1, 4], "b": [2, 5]}
    (tmp_path / "some_value.csv").write_text("a,b\n1,2\n4,5,\n7,8,9\n")
    with pytest.raises(DataError, match="line 4 has 3 fields, the header has 2"):
        read_table(tmp_path / "some_value.csv")
    (tmp_path / "all.csv").write_text("a,b\n1,2,3\n4,5,6\n")
    with pytest.raises(DataError, match="line 2 has 3 fields, the header has 2"):
        read_table(tmp_path / "all.csv")


def test_long_row_after_a_multiline_field_names_the_real_line(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text('a,b\n"x\ny",2\n\n1,2,3\n')
    with pytest.raises(DataError, match="line 5 has 3 fields, the header has 2") as info:
        read_table(tmp_path / "m.csv")
    assert info.value.details["line"] == 5


def test_bad_jsonl_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_text('{"a": 1}\n{"a": 2\n')
    with pytest.raises(DataError, match="line 2 is not valid JSON"):
        read_table(tmp_path / "b.jsonl")


def test_corrupt_parquet_and_unknown_suffix(tmp_path: Path) -> None:
    (tmp_path / "c.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_table(tmp_path / "c.parquet")
    (tmp_path / "x.xlsx").write_bytes(b"1")
    with pytest.raises(UsageError, match="cannot tell the file format"):
        read_table(tmp_path / "x.xlsx")


def test_duplicate_column_names(tmp_path: Path) -> None:
    (tmp_path / "d.parquet").unlink(missing_ok=True)
    pd.DataFrame([[1, 2]], columns=["a", "a"]).to_json(tmp_path / "d.json", orient="values")
    (tmp_path / "d.csv").write_text("a,a\n1,2\n")
    # pandas renames the second 'a' to 'a.1' for CSV, so only mangled-free formats can clash
    assert list(read_table(tmp_path / "d.csv").columns) == ["a", "a.1"]
