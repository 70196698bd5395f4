"""PII in free text and cells, English and Chinese: find it by type, mask it.

Pure Python (regular expressions, checksums and libphonenumber for +country numbers), so it
sits in lathe's foundation layer and the server can mask before logging without loading
anything heavy. See `_recognizers` for the types and what each rejects.

>>> from lathe.privacy.pii import detect, Masker
>>> [m.entity for m in detect("身份证 11010519491231002X，卡号 6222 0212 3456 7894")]
['CN_RESIDENT_ID', 'CN_BANK_CARD']
>>> Masker("redact").mask("call (415) 555-0123 v1.2.3.4")
'call <PHONE_NUMBER> v1.2.3.4'
"""

from lathe.privacy.pii._engine import MODES, Masker, MaskMode, PiiMatch, detect, mask_json
from lathe.privacy.pii._recognizers import ENTITIES

__all__ = ["detect", "mask_json", "Masker", "MaskMode", "MODES", "PiiMatch", "ENTITIES"]
