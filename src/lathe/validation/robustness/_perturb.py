"""Perturbations: pure functions `(frame, columns, rng) -> frame` on the raw rows of DATA.

Tabular ones change feature columns within what real data does (noise within a column's
spread, cells gone missing, categories never seen, columns in another order); text ones
change what a reader would not notice or forgive (typos at one per ten characters, case,
punctuation, whitespace, full-width/half-width forms, traditional/simplified Chinese).

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> to_width("Hi, 你好，ok")
'Ｈｉ， 你好,ｏｋ'
>>> 18 <= len(typos("abcdefghijklmnopqrst", rng)) <= 22  # two typos in 20 characters
True
>>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
>>> int(missing(frame, ["x"], rng, rate=0.5).x.isna().sum())
2
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["TABULAR", "TEXT", "typos", "to_width", "missing", "Perturbation"]

Perturbation = Callable[[pd.DataFrame, list[str], np.random.Generator], pd.DataFrame]
UNSEEN = "__lathe_unseen__"
_PUNCT = re.compile(r"[\s]*[" + re.escape(string.punctuation) + "，。！？、；：“”‘’（）《》…]+")


def noise(frame: pd.DataFrame, columns: list[str], rng: np.random.Generator,
          scale: float = 0.1) -> pd.DataFrame:
    """Gaussian noise of `scale` standard deviations on each numeric column."""
    out = frame.copy()
    for col in columns:
        values = pd.to_numeric(out[col], errors="coerce").astype(float)
        spread = float(np.nanstd(values.to_numpy())) if values.notna().any() else 0.0
        out[col] = values + rng.normal(0.0, scale * spread, size=len(values))
    return out


def missing(frame: pd.DataFrame, columns: list[str], rng: np.random.Generator,
            rate: float = 0.1) -> pd.DataFrame:
    """`rate` of the cells of the feature columns blanked (exactly, chosen at random)."""
    out = frame.copy()
    cells = [(r, c) for c in range(len(columns)) for r in range(len(out))]
    chosen = rng.choice(len(cells), size=int(round(rate * len(cells))), replace=False)
    by_column: dict[int, list[int]] = {}
    for i in chosen:
        r, c = cells[int(i)]
        by_column.setdefault(c, []).append(r)
    for c, rows in by_column.items():
        col = columns[c]
        out[col] = out[col].astype(object) if out[col].dtype == bool else out[col]
        out.iloc[rows, out.columns.get_loc(col)] = None
    return out


def unseen(frame: pd.DataFrame, columns: list[str], rng: np.random.Generator,
           rate: float = 0.1) -> pd.DataFrame:
    """`rate` of the cells of each categorical column set to a category never seen."""
    out = frame.copy()
    for col in columns:
        hit = rng.random(len(out)) < rate
        out[col] = out[col].astype(object).where(~hit, UNSEEN)
    return out


def column_order(frame: pd.DataFrame, columns: list[str],
                 rng: np.random.Generator) -> pd.DataFrame:
    """The same rows with their columns in a shuffled order: nothing may change."""
    return frame[list(rng.permutation(frame.columns))]


def typos(text: str, rng: np.random.Generator, per: int = 10) -> str:
    """One typo per `per` characters: swap, drop, double or replace a letter."""
    chars = list(text)
    letters = [i for i, ch in enumerate(chars) if ch.isalpha()]
    k = min(len(letters), max(1 if letters else 0, round(len(chars) / per)))
    for i in sorted(rng.choice(letters, size=k, replace=False).tolist(), reverse=True):
        op = int(rng.integers(4))
        if op == 0 and i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif op == 1:
            del chars[i]
        elif op == 2:
            chars.insert(i, chars[i])
        else:
            pool = string.ascii_lowercase if chars[i].isascii() else "".join(
                chars[j] for j in letters)
            chars[i] = pool[int(rng.integers(len(pool)))]
    return "".join(chars)


def to_width(text: str) -> str:
    """Half-width ASCII to full-width and full-width forms to half-width (both ways at once)."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0x21 <= code <= 0x7E:
            out.append(chr(code + 0xFEE0))
        elif 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def _traditional(text: str) -> str:
    import zhconv  # the validation extra: MediaWiki's conversion tables, pure Python

    if zhconv.zhconv.zhcdicts is None:
        # by path: its default loader leaves the dictionary file open (a ResourceWarning)
        from pathlib import Path

        zhconv.zhconv.loaddict(str(Path(zhconv.zhconv.__file__).with_name("zhcdict.json")))
    return str(zhconv.convert(text, "zh-hant"))


def _text(fn: Callable[[str, np.random.Generator], str]) -> Perturbation:
    def apply(frame: pd.DataFrame, columns: list[str], rng: np.random.Generator) -> pd.DataFrame:
        out = frame.copy()
        for col in columns:
            out[col] = [v if not isinstance(v, str) else fn(v, rng) for v in out[col]]
        return out

    apply.__doc__ = fn.__doc__
    return apply


TABULAR: dict[str, tuple[str, Perturbation]] = {
    "noise": ("numeric", noise),
    "missing_values": ("any", missing),
    "unseen_categories": ("categorical", unseen),
    "column_order": ("any", column_order),
}
TEXT: dict[str, tuple[str, Perturbation]] = {
    "typos": ("text", _text(typos)),
    "case": ("text", _text(lambda t, _r: t.upper() if t.lower() == t else t.lower())),
    "punctuation": ("text", _text(lambda t, _r: _PUNCT.sub(" ", t).strip())),
    "whitespace": ("text", _text(lambda t, _r: "  " + re.sub(r"\s+", "   ", t) + " ")),
    "width": ("text", _text(lambda t, _r: to_width(t))),
    "traditional_chinese": ("zh", _text(lambda t, _r: _traditional(t))),
}
