from connectors.canonical import canonical_url
from vigie.article import article_id


def test_tracking_parameters_fragment_and_host_case_are_dropped() -> None:
    url = canonical_url(
        "HTTPS://News.Example:443/a/b?id=3&utm_source=rss&fbclid=x&UTM_Medium=m#top"
    )
    assert url == "https://news.example/a/b?id=3"


def test_relative_link_resolves_against_the_feed() -> None:
    assert canonical_url("../x.html?gclid=1", base="http://site.example/news/today/") == (
        "http://site.example/news/x.html"
    )


def test_non_default_port_is_kept() -> None:
    assert canonical_url("http://site.example:8080/x") == "http://site.example:8080/x"


def test_article_id_is_stable_and_depends_on_the_url_only() -> None:
    a = article_id(canonical_url("https://news.example/a?utm_source=x"))
    b = article_id(canonical_url("https://NEWS.example/a"))
    assert a == b
    assert len(a) == 16
    assert a != article_id("https://news.example/b")


def test_ids_already_in_users_indices_do_not_change() -> None:
    # The first 64 bits of SHA-256 of the canonical URL, as always: what tells
    # entries of one page apart is added only when there is something to add.
    assert article_id("https://news.example/a") == "95bbca1f9b4bae7d"
    assert article_id("https://news.example/a", "guid", "g1") != article_id(
        "https://news.example/a"
    )
