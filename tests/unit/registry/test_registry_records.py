from __future__ import annotations

import pytest

from lathe.errors import UsageError
from lathe.registry.records import ModelVersion, check_name, current_actor, parse_ref


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [
        ("churn", ("churn", None, "champion")),
        ("churn@challenger", ("churn", None, "challenger")),
        ("churn:12", ("churn", 12, None)),
        ("team.churn-v2", ("team.churn-v2", None, "champion")),
    ],
)
def test_parse_ref(ref: str, parsed: tuple) -> None:
    assert parse_ref(ref) == parsed


@pytest.mark.parametrize("ref", ["churn:x", "churn:", "@champion", "ch urn", "churn@", ""])
def test_bad_refs_are_usage_errors(ref: str) -> None:
    with pytest.raises(UsageError):
        parse_ref(ref)


def test_check_name_explains_rules() -> None:
    with pytest.raises(UsageError, match="letters, digits"):
        check_name("-bad")
    assert check_name("good_1") == "good_1"


def test_actor_from_env_or_os(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATHE_ACTOR", "ci-bot")
    assert current_actor() == "ci-bot"
    monkeypatch.delenv("LATHE_ACTOR")
    assert current_actor()


def test_version_record_reads_test_metrics() -> None:
    record = ModelVersion.from_row(
        {"name": "m", "version": 2, "metrics": '{"test": {"roc_auc": 0.9}}', "config": "{}"}
    )
    assert record.ref == "m:2"
    assert record.test_metric("roc_auc") == 0.9
    assert record.test_metric("rmse") is None
    assert record.to_dict()["ref"] == "m:2"


def test_package_exports_resolve_lazily() -> None:
    import lathe.registry as package

    assert sorted(package.__all__) == sorted(package._EXPORTS)
    for name in package.__all__:
        assert getattr(package, name) is not None
    with pytest.raises(AttributeError):
        package.nope  # noqa: B018
