from datetime import timedelta

import pytest
from pydantic import ValidationError

from vigie.article import Article


def _raw(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "abc",
        "url": "https://x.example/a",
        "canonical_url": "https://x.example/a",
        "source": {"feed_id": "x"},
        "title": "t",
        "fetched_at": "2025-02-09T10:00:00+01:00",
    }
    base.update(overrides)
    return base


def test_json_round_trip_and_utc() -> None:
    a = Article.model_validate(_raw())
    assert a.fetched_at.utcoffset() == timedelta(0)
    assert a.fetched_at.hour == 9
    assert Article.model_validate_json(a.model_dump_json()) == a


@pytest.mark.parametrize("missing", ["id", "source", "fetched_at"])
def test_required_fields(missing: str) -> None:
    raw = _raw()
    del raw[missing]
    with pytest.raises(ValidationError, match=missing):
        Article.model_validate(raw)


def test_an_article_without_a_link_of_its_own() -> None:
    # A newsletter or press-release item: its text is the news.
    a = Article.model_validate(_raw(url=None, canonical_url=None))
    assert a.canonical_url is None
    assert Article.model_validate_json(a.model_dump_json()) == a
    without = _raw()
    del without["url"], without["canonical_url"]
    assert Article.model_validate(without).url is None
    with pytest.raises(ValidationError, match="canonical_url"):
        Article.model_validate(_raw(canonical_url=""))


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        Article.model_validate(_raw(fetched_at="2025-02-09T10:00:00"))


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="colour"):
        Article.model_validate(_raw(colour="red"))


def test_articles_are_immutable() -> None:
    a = Article.model_validate(_raw())
    with pytest.raises(ValidationError):
        a.title = "other"  # type: ignore[misc]
    assert a.published_at is None
