"""One settings class: safe defaults, unsafe production settings refused or warned."""

from __future__ import annotations

from pathlib import Path

import pytest

from tongxin.server import ConfigurationError, Settings


def make(tmp_path: Path, **values: object) -> Settings:
    return Settings(key_file=tmp_path / "k.key", **values)  # type: ignore[arg-type]


def test_zero_configuration_is_a_local_sqlite_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TONGXIN_DATABASE_URL", "TONGXIN_ENVIRONMENT", "TONGXIN_HOST"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite:///tongxin.db"
    assert settings.resolved_key_file() == Path("tongxin.key")
    assert settings.check() == []


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGXIN_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert Settings().database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("secret", ["change-me", "short"])
def test_placeholder_secret_is_refused(tmp_path: Path, secret: str) -> None:
    with pytest.raises(ConfigurationError, match="TONGXIN_SECRET_KEY"):
        make(tmp_path, secret_key=secret).check()


def test_production_needs_a_key_and_tls(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="tongxin init"):
        make(tmp_path, environment="production").check()
    (tmp_path / "k.key").write_text("x")
    with pytest.raises(ConfigurationError, match="TLS"):
        make(tmp_path, environment="production", host="0.0.0.0").check()
    with pytest.raises(ConfigurationError, match="https"):
        make(tmp_path, environment="production", public_url="http://hub.example.cn").check()
    ok = make(
        tmp_path,
        environment="production",
        host="0.0.0.0",
        behind_tls_proxy=True,
        database_url="postgresql+psycopg://u@h/db",
    )
    assert ok.check() == []


def test_development_on_a_public_interface_warns(tmp_path: Path) -> None:
    warnings = make(tmp_path, host="0.0.0.0").check()
    assert any("development mode" in w for w in warnings)
    assert any("TLS" in w for w in warnings)


def test_the_settings_table_in_docs_is_generated_from_the_settings_class(root: Path) -> None:
    from tongxin.server._settings_docs import render

    text = (root / "docs" / "hub.md").read_text(encoding="utf-8")
    assert text == render(text), (
        "docs/hub.md is stale; run: python -m tongxin.server._settings_docs docs/hub.md"
    )
    assert "`TONGXIN_KEY_REFRESH_SECONDS` | `600` |" in text
