"""The privacy verbs (re-exported by `lathe.api`): PII scanning and masking of files, DP
statistics and the membership-inference audit (see `lathe.privacy`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lathe.errors import NotFound, UsageError

__all__ = ["pii_scan", "privacy_mask", "privacy_stats", "privacy_audit", "read_key",
           "parse_bounds", "reference_fitter"]

KEY_ENV = "LATHE_PII_KEY"


def read_key(key_file: str | os.PathLike[str] | None) -> bytes | None:
    """The HMAC key for `--mode hash`: the file's bytes, else $LATHE_PII_KEY, else None."""
    if key_file is not None:
        path = Path(key_file)
        if not path.is_file():
            raise NotFound(f"{path}: no such key file", hint="make one: head -c 32 "
                           "/dev/urandom > pii.key", file=str(path))
        key = path.read_bytes().strip()
        if len(key) < 16:
            raise UsageError(f"{path}: the key has {len(key)} bytes; at least 16 are needed",
                             hint="head -c 32 /dev/urandom > pii.key", file=str(path))
        return key
    env = os.environ.get(KEY_ENV)
    return env.encode("utf-8") if env else None


def pii_scan(data: str | os.PathLike[str], *, columns: list[str] | None = None,
             encoding: str | None = None) -> dict[str, Any]:
    """Which columns of a file hold which kinds of PII (counts, masked examples)."""
    from lathe.privacy.files import scan_file

    return scan_file(Path(data), columns=columns, encoding=encoding)


def privacy_mask(data: str | os.PathLike[str], out: str | os.PathLike[str], *,
                 columns: list[str] | None = None, mode: str = "redact",
                 key_file: str | os.PathLike[str] | None = None, encoding: str | None = None,
                 force: bool = False) -> dict[str, Any]:
    """Write a copy of `data` with the PII of `columns` (default: every column where PII is
    found) masked by `mode` (redact, hash with a key, pseudonym)."""
    from lathe.privacy.files import mask_file

    return mask_file(Path(data), Path(out), columns=columns, mode=mode, key=read_key(key_file),
                     encoding=encoding, force=force)


def parse_bounds(items: list[str] | None) -> dict[str, tuple[float, float]]:
    """`COL=LO:HI` items as {COL: (LO, HI)}.

    >>> parse_bounds(["age=0:120", "hours=1:99.5"])
    {'age': (0.0, 120.0), 'hours': (1.0, 99.5)}
    """
    out: dict[str, tuple[float, float]] = {}
    for item in items or []:
        name, _, span = item.partition("=")
        lo, _, hi = span.partition(":")
        try:
            low, high = float(lo), float(hi)
        except ValueError:
            raise UsageError(f"--bounds {item!r} is not COL=LO:HI",
                             hint="e.g. --bounds age=0:120") from None
        if not name or not low < high:
            raise UsageError(f"--bounds {item!r}: need a column and LO < HI",
                             hint="e.g. --bounds age=0:120")
        out[name] = (low, high)
    return out


def privacy_stats(data: str | os.PathLike[str], *, epsilon: float, **options: Any
                  ) -> dict[str, Any]:
    """DP counts, sums, means and histograms of a file, spending its budget (see
    `lathe.privacy.stats.private_stats` for the options)."""
    from lathe.privacy.stats import private_stats

    return private_stats(Path(data), epsilon=epsilon, **options)


def privacy_audit(model: str | os.PathLike[str], members: str | os.PathLike[str],
                  non_members: str | os.PathLike[str], *, shadows: int = 4,
                  max_rows: int = 5000, seed: int = 0, threads: int | None = None,
                  encoding: str | None = None) -> dict[str, Any]:
    """Membership-inference attacks on MODEL (see `lathe.privacy.audit`)."""
    from lathe.model import read_data, source_name
    from lathe.privacy.audit import membership_audit
    from lathe.registry.refs import load_model

    loaded = load_model(model)
    report = membership_audit(
        loaded, read_data(members, encoding), read_data(non_members, encoding),
        shadows=shadows, max_rows=max_rows, seed=seed,
        fit_reference=reference_fitter(loaded, threads),
        members_source=source_name(members), non_members_source=source_name(non_members))
    return {"model": str(model), **report}


def reference_fitter(loaded: Any, threads: int | None = None) -> Any:
    """fit(X, y, seed, extra) -> a new model of `loaded`'s family and parameters, fitted on
    (X, y) with no validation split (the audit's reference models)."""
    from lathe.models import FitData

    def fit(X: Any, y: Any, seed: int, extra: dict[str, Any]) -> Any:
        family = type(loaded.family)(**loaded.family.params)
        return family.fit(FitData(loaded.schema, X, y, seed=seed, threads=threads,
                                  extra=extra))

    return fit
