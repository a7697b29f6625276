"""What the `vigie` command says and exits with when something is wrong: one line
naming the setting (exit 2), one line when Kafka or the engine does not answer
(exit 1; `--debug` keeps the traceback), grep's codes for `vigie search`, and
JSON for the commands that print tables."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import vigie
from commands.main import app
from services import local as services
from tests.conftest import REPO
from vigie.paths import package_data

VIGIE = str(Path(sys.executable).parent / "vigie")


def _vigie(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`vigie` in its own process: what a user sees on a real stderr."""
    return subprocess.run(
        [VIGIE, *args],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"vigie {vigie.__version__}\n"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"VIGIE_WEB_PORT": "abc"},
            "configuration: VIGIE_WEB_PORT: Input should be a valid integer, "
            "unable to parse string as an integer (got 'abc')",
        ),
        (
            {"VIGIE_WEB_PROT": "6066"},
            "configuration: VIGIE_WEB_PROT is not a setting (did you mean VIGIE_WEB_PORT?)",
        ),
        (
            {"VIGIE_CONFIG": "/nowhere/vigie.yaml"},
            "configuration: VIGIE_CONFIG: no such file: /nowhere/vigie.yaml",
        ),
        (
            {"VIGIE_NER_MODELS": "{fr: fr_core_news_sm"},
            "configuration: VIGIE_NER_MODELS: not valid JSON (a mapping or list is expected)",
        ),
        (
            {"VIGIE_CONFIG_DIR": "/"},
            "configuration: VIGIE_CONFIG_DIR: not a copy of vigie/data/: it has no taxonomy/, "
            "search/, kibana/ (got '/')",
        ),
        (
            {"VIGIE_FEEDS_FILE": "/nowhere/feeds.yaml"},
            "configuration: VIGIE_FEEDS_FILE: no feed list at /nowhere/feeds.yaml (write one, "
            "README config/feeds.yaml, or add an OPML list: vigie feeds import FILE.opml)",
        ),
        (
            {"VIGIE_SEARCH_ENGINE": "solr"},
            "configuration: VIGIE_SEARCH_ENGINE: Input should be 'opensearch' or "
            "'elasticsearch' (got 'solr')",
        ),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(env: dict[str, str], expected: str) -> None:
    result = CliRunner().invoke(app, ["feeds", "validate"], env=env)
    assert result.exit_code == 2
    assert result.output == expected + "\n"


def test_a_typo_in_the_settings_file_names_the_file_key_and_nearest(tmp_path: Path) -> None:
    config = tmp_path / "vigie.yaml"
    config.write_text("topic_raw: news.raw\nbulk_max_doc: 10\n")
    result = CliRunner().invoke(app, ["feeds", "validate"], env={"VIGIE_CONFIG": str(config)})
    assert result.exit_code == 2
    assert result.output == (
        f"configuration: {config}: bulk_max_doc: not a setting (did you mean bulk_max_docs?)\n"
    )
    config.write_text("web_port: [6066\n")
    broken = CliRunner().invoke(app, ["feeds", "validate"], env={"VIGIE_CONFIG": str(config)})
    assert broken.exit_code == 2
    assert broken.output.startswith(f"configuration: {config}: not valid YAML: ")
    assert len(broken.output.splitlines()) == 1


def test_a_broken_taxonomy_or_a_missing_ner_model_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    shutil.copytree(package_data(), data)
    (data / "taxonomy" / "persons.yaml").write_text("person:x: [not, a, mapping]\n")
    text = tmp_path / "note.txt"
    text.write_text("Kim Jong-un à Moscou")
    broken = CliRunner().invoke(app, ["enrich", str(text)], env={"VIGIE_CONFIG_DIR": str(data)})
    assert broken.exit_code == 2
    assert broken.output.startswith(f"configuration: {data / 'taxonomy' / 'persons.yaml'}")
    assert len(broken.output.splitlines()) == 1
    no_model = CliRunner().invoke(
        app, ["enrich", str(text)], env={"VIGIE_NER_MODELS": '{"fr": "xx_no_such_model"}'}
    )
    assert no_model.exit_code == 2
    assert "xx_no_such_model" in no_model.output
    assert "pip install -e '.[ner]'" in no_model.output


def test_secrets_are_not_repeated_in_errors(tmp_path: Path) -> None:
    config = tmp_path / "vigie.yaml"
    config.write_text("api_token: {value: s3cret}\n")
    result = CliRunner().invoke(app, ["feeds", "validate"], env={"VIGIE_CONFIG": str(config)})
    assert result.exit_code == 2
    assert result.output.startswith(f"configuration: {config}: api_token: ")
    assert "s3cret" not in result.output


def test_kafka_down_is_one_line_on_stderr_and_exit_1() -> None:
    down = _vigie("worker", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1")
    assert down.returncode == 1
    assert down.stderr.splitlines() == [
        "cannot start the worker: kafka at 127.0.0.1:1: NoBrokersAvailable"
    ]


def test_search_exits_2_when_the_engine_does_not_answer() -> None:
    down = _vigie("search", "Corée", ELASTICSEARCH_URL="http://127.0.0.1:1")
    assert down.returncode == 2
    (line,) = down.stderr.splitlines()
    assert line.startswith("search failed: opensearch unreachable")
    traced = _vigie("--debug", "search", "Corée", ELASTICSEARCH_URL="http://127.0.0.1:1")
    assert traced.returncode == 2
    assert "Traceback (most recent call last)" in traced.stderr


def test_an_unreachable_service_anywhere_is_one_line_unless_debug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refused(settings: object) -> list[services.Service]:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(services, "local_services", refused)
    result = CliRunner().invoke(app, ["services", "status"])
    assert result.exit_code == 1
    assert result.output == "unreachable: [Errno 111] Connection refused\n"
    debug = CliRunner().invoke(app, ["--debug", "services", "status"])
    assert isinstance(debug.exception, ConnectionRefusedError)  # the traceback is kept


def test_services_status_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = services.Service(
        name="kafka",
        home=tmp_path,
        start_timeout=1,
        fetch=lambda: None,
        prepare=lambda: None,
        command=lambda: [],
        answers=lambda: "no broker answers at 127.0.0.1:1",
    )
    monkeypatch.setattr(services, "local_services", lambda settings: [fake])
    result = CliRunner().invoke(app, ["services", "status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {
            "service": "kafka",
            "state": "down",
            "reason": "no broker answers at 127.0.0.1:1",
            "pid": None,
        }
    ]


def test_feeds_status_as_json(tmp_path: Path) -> None:
    from connectors.state import State

    state_file = tmp_path / "state.sqlite3"
    State(state_file).close()
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - id: sample\n    url: /nowhere.xml\n")
    env = {"VIGIE_CONNECTOR_STATE": str(state_file), "VIGIE_FEEDS_FILE": str(feeds)}
    result = CliRunner().invoke(app, ["feeds", "status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["feed"] == "sample"
    assert row["polled"] is False
    assert row["failures"] == 0
    assert row["last_success"] is None


def test_paths_says_where_everything_is(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["paths", "--json"], env={"VIGIE_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    where = json.loads(result.output)
    assert where["checkout"] == str(REPO)
    assert where["home"] == {"path": str(tmp_path), "setting": "VIGIE_HOME", "exists": True}
    assert where["connector_state"]["path"] == str(tmp_path / "connector.sqlite3")
    assert where["feeds_file"]["path"] == str(REPO / "config" / "feeds.yaml")
    assert Path(where["config_dir"]["path"], "taxonomy", "stoplist.yaml").is_file()
