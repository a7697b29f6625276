from pathlib import Path

from typer.testing import CliRunner

from commands.main import app


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


def test_enrich_prints_the_enriched_article_as_json(tmp_path: Path) -> None:
    import json

    text = tmp_path / "note.txt"
    text.write_text("Nordkorea hat Soldaten nach Russland geschickt, sagt der Kreml.")
    result = CliRunner().invoke(app, ["enrich", str(text)])
    assert result.exit_code == 0, result.output
    article = json.loads(result.output)
    assert article["language"] == "de"
    assert [t["id"] for t in article["tags"]][:2] == ["country:RU", "country:KP"]
    assert {e["text"] for e in article["entities"]} >= {"Nordkorea", "Russland", "der Kreml"}

    given = tmp_path / "article.json"
    given.write_text(
        json.dumps(
            {"title": "Kim Jong-un à Moscou", "source": {"feed_id": "x", "language_hint": "fr"}}
        )
    )
    result = CliRunner().invoke(app, ["enrich", str(given)])
    assert result.exit_code == 0, result.output
    tags = {t["label"] for t in json.loads(result.output)["tags"]}
    assert tags == {"Kim Jong-un", "Russie"}


def test_enrich_of_a_bad_article_json_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": 12, "published_at": "yesterday"}')
    result = CliRunner().invoke(app, ["enrich", str(bad)])
    assert result.exit_code == 1
    assert "published_at" in result.output


def test_feeds_check_prints_the_normalised_articles_as_json() -> None:
    import json

    result = CliRunner().invoke(app, ["feeds", "check", "tests/data/feeds/rss2.xml"])
    assert result.exit_code == 0, result.output
    checked = json.loads(result.output)
    assert [a["canonical_url"] for a in checked["articles"]] == [
        "https://quotidien.example/monde/sommet.html",
        "https://quotidien.example/region/marche.html",
    ]
    assert checked["update_hint_seconds"] == 3600
    assert checked["warnings"] == ["tests-data-feeds-rss2-xml: entry 2 repeats entry 1; skipped"]


def test_feeds_check_of_a_missing_file_or_a_bad_url_fails_clearly() -> None:
    missing = CliRunner().invoke(app, ["feeds", "check", "tests/data/feeds/nowhere.xml"])
    assert missing.exit_code == 1
    assert "cannot read feed" in missing.output
    assert "No such file" in missing.output
    refused = CliRunner().invoke(app, ["feeds", "check", "http://127.0.0.1:9/feed.xml"])
    assert refused.exit_code == 1
    assert "cannot read feed: http://127.0.0.1:9/feed.xml" in refused.output


def test_the_shipped_feed_list_is_valid() -> None:
    result = CliRunner().invoke(app, ["feeds", "validate"])
    assert result.exit_code == 0, result.output
    assert "0 problems" in result.output
