from __future__ import annotations

import pytest

from lathe import errors
from lathe.plugins import Registry


def test_every_error_has_exit_code_and_http_status() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, errors.LatheError):
            assert cls.exit_code != 0
            assert 400 <= cls.http_status < 600


def test_message_hint_and_details() -> None:
    err = errors.DataError("column 'age' is empty", hint="drop it", column="age")
    assert str(err) == "column 'age' is empty. Fix: drop it"
    assert err.to_dict() == {
        "error": "DataError",
        "message": "column 'age' is empty",
        "hint": "drop it",
        "details": {"column": "age"},
    }
    question = errors.UsageError("no column 'x'; did you mean 'y'?", hint="pass --target")
    assert str(question) == "no column 'x'; did you mean 'y'? Fix: pass --target"


def test_subclasses_keep_their_parent_codes() -> None:
    assert issubclass(errors.SchemaMismatch, errors.DataError)
    assert errors.GateFailed.http_status == 409


def test_did_you_mean() -> None:
    assert errors.did_you_mean("incme", ["age", "income"]) == "did you mean 'income'?"
    assert "valid names are" in errors.did_you_mean("zzz", ["age", "income"])


def test_registry_lists_valid_names_on_typo() -> None:
    reg: Registry[int] = Registry("thing")
    reg.register("alpha")(1)
    assert reg.get("alpha") == 1 and "alpha" in reg and reg.names() == ["alpha"]
    with pytest.raises(errors.ConfigError, match="did you mean 'alpha'"):
        reg.get("alpah")
    with pytest.raises(errors.ConfigError, match="registered twice"):
        reg.register("alpha")(2)
