"""Per-row language detection for text columns.

Two steps, each doing what it is good at:

1. **Script.** Han characters without kana are Chinese (`zh`), kana Japanese, hangul Korean;
   the count of letters per script decides, so a Chinese review quoting "WiFi" stays `zh`.
   This is exact for the scripts that identify their language and costs nothing.
2. **Statistics for the rest** (Latin, Cyrillic, ...): py3langid's naive-Bayes model, which
   ships inside its wheel (no download at run time). Short fragments ("kids , spirit") are
   guessed badly by any character model (on SST-2 phrases py3langid alone says `en` for 87 %
   of rows), so a row whose confidence is below `min_confidence` takes the language most
   confident rows of the same script have in this column (≥ 99.9 % on SST-2 then).

Without py3langid (the `validation` extra) step 2 falls back to `en` for Latin script:
the same rule lathe's text families use for a whole column.

>>> detect_languages(["这家酒店很干净", "The room was clean and quiet.", "ホテル", ""]).tolist()
['zh', 'en', 'ja', 'und']
>>> text_of_rows(__import__("pandas").DataFrame({"a": ["x", None], "b": ["y", "z"]}),
...              ["a", "b"]).tolist()
['x y', 'z']
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["detect_languages", "text_of_rows", "language_engine"]

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002a6df]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
# py3langid's Chinese varieties are one slice for a model: the script decides Chinese anyway
_MERGE = {"wuu": "zh", "yue": "zh", "lzh": "zh", "nan": "zh", "cmn": "zh", "hak": "zh"}
MIN_CONFIDENCE = 0.9


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        return None
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def language_engine() -> str:
    """Which detector step 2 uses: 'py3langid X.Y' or 'script only'."""
    if _identifier() is None:
        return "script only"
    from importlib.metadata import version

    return f"py3langid {version('py3langid')}"


def _script(text: str) -> str:
    letters = sum(ch.isalpha() for ch in text)
    if not letters:
        return "none"
    han, kana, hangul = (len(p.findall(text)) for p in (_HAN, _KANA, _HANGUL))
    if kana and (han + kana) / letters > 0.3:
        return "ja"
    if hangul / letters > 0.3:
        return "ko"
    if han / letters > 0.3:
        return "zh"
    if len(_CYRILLIC.findall(text)) / letters > 0.5:
        return "cyrillic"
    if len(_ARABIC.findall(text)) / letters > 0.5:
        return "arabic"
    return "latin"


def detect_languages(texts: Sequence[str] | pd.Series,
                     min_confidence: float = MIN_CONFIDENCE) -> np.ndarray:
    """An ISO 639-1 code per text ('und' for empty or letterless text)."""
    values = ["" if t is None or (isinstance(t, float) and np.isnan(t)) else str(t)
              for t in texts]
    scripts = [_script(t) for t in values]
    out = np.array(["und"] * len(values), dtype=object)
    ident = _identifier()
    guesses: dict[int, tuple[str, float]] = {}
    for i, (text, script) in enumerate(zip(values, scripts, strict=True)):
        if script in ("zh", "ja", "ko"):
            out[i] = script
        elif script == "none":
            continue
        elif ident is None:
            out[i] = "en" if script == "latin" else script
        else:
            lang, conf = ident.classify(text)
            guesses[i] = (_MERGE.get(lang, lang), float(conf))
    if guesses:
        confident: dict[str, Counter[str]] = {}
        for i, (lang, conf) in guesses.items():
            if conf >= min_confidence:
                confident.setdefault(scripts[i], Counter())[lang] += 1
        for i, (lang, conf) in guesses.items():
            seen = confident.get(scripts[i])
            out[i] = lang if conf >= min_confidence or not seen else seen.most_common(1)[0][0]
    return out


def text_of_rows(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """The text columns of each row joined by a space (missing cells skipped)."""
    parts = frame[columns].astype("string").fillna("")
    joined = parts.apply(lambda row: " ".join(v for v in row if v), axis=1)
    return joined.astype(str)
