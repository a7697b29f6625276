"""Where Vigie finds what it ships, the operator's files and its own state, in a
checkout and once installed. (The installed wheel itself is exercised by the
`make test` step `wheel-check`, from outside the checkout.)"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import platformdirs
import pytest

from tests.conftest import REPO
from vigie import paths
from vigie.settings import Settings, load_settings


def test_in_a_checkout_operator_files_are_in_config_and_state_in_var(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VIGIE_HOME", raising=False)
    settings = Settings()
    assert paths.checkout() == REPO
    assert settings.home == REPO / "var"
    assert settings.feeds_file == REPO / "config" / "feeds.yaml"
    assert settings.alerts_file == REPO / "config" / "alerts.yaml"
    assert settings.connector_state == REPO / "var" / "connector.sqlite3"


def test_shipped_data_is_package_data_read_through_importlib_resources() -> None:
    data = Settings().config_dir
    assert data == files("vigie") / "data"
    assert data.is_relative_to(REPO / "vigie")
    for name in ("taxonomy/stoplist.yaml", "boilerplate.yaml", "search/articles.json"):
        assert (data / name).is_file(), name
    assert list((data / "kibana").glob("*.ndjson"))


def test_vigie_home_moves_the_state_not_the_checkouts_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIE_HOME", str(tmp_path))
    settings = load_settings()
    assert settings.home == tmp_path
    assert settings.connector_state == tmp_path / "connector.sqlite3"
    assert settings.feeds_file == REPO / "config" / "feeds.yaml"


def test_installed_everything_of_the_operator_is_in_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in site-packages: no pyproject.toml and config/ beside the package.
    monkeypatch.setattr(paths, "_ROOT", tmp_path)
    monkeypatch.delenv("VIGIE_HOME", raising=False)
    assert paths.checkout() is None
    home = Path(platformdirs.user_data_dir("vigie", appauthor=False))
    settings = Settings()
    assert settings.home == home
    assert settings.feeds_file == home / "feeds.yaml"
    assert settings.alerts_file == home / "alerts.yaml"
    assert settings.connector_state == home / "connector.sqlite3"

    mine = tmp_path / "home"
    mine.mkdir()
    (mine / "vigie.yaml").write_text("topic_raw: from.home\n")
    monkeypatch.setenv("VIGIE_HOME", str(mine))
    settings = load_settings()
    assert settings.topic_raw == "from.home"  # the settings file is found in the home too
    assert settings.feeds_file == mine / "feeds.yaml"
