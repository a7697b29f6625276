from typer.testing import CliRunner

from vigie.cli import app


def test_help_lists_the_subcommands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("services", "ingest", "worker", "search"):
        assert command in result.output
    services = CliRunner().invoke(app, ["services", "--help"])
    for command in ("up", "down", "status"):
        assert command in services.output


def test_ingest_of_a_broken_feed_fails_clearly() -> None:
    result = CliRunner().invoke(app, ["ingest", "tests/data/malformed.xml"])
    assert result.exit_code == 1
    assert "cannot read feed" in result.output
    assert "no entry could be recovered" in result.output
