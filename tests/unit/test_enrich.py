from pipeline.enrichment.clean import Cleaner, html_to_text
from pipeline.enrichment.enrich import Enricher
from pipeline.enrichment.language import LanguageDetector
from vigie.article import Article, Source


def test_seed_is_cleaned_of_image_and_boilerplate(
    enricher: Enricher, seed_article: Article
) -> None:
    body = enricher.enrich(seed_article).body
    assert "![](" not in body
    assert "celebritax" not in body
    assert "Vidéos associées" not in body
    assert "Archivé dans" not in body
    assert body.startswith("Le président des États-Unis, Donald Trump")
    assert body.endswith("à la fin de 2019.")
    # cleaning removes furniture, never article sentences
    assert "Kim Jong-un responded with insults" in body
    assert "Aun así, des mois plus tard" in body


def test_seed_is_french_with_an_english_segment(enricher: Enricher, seed_article: Article) -> None:
    result = enricher.enrich(seed_article)
    assert result.language == "fr"
    assert result.language_declared == "fr"
    assert not result.language_mismatch
    shares = {s.lang: s.share for s in result.languages}
    assert shares["fr"] > 0.85
    assert "en" in shares  # "Kim Jong-un responded with insults, ..." is its own line
    assert abs(sum(shares.values()) - 1.0) < 0.01
    assert result.content_hash is not None
    assert len(result.content_hash) == 64


def test_uncleaned_seed_would_mislead_the_detector(seed_article: Article) -> None:
    # Why cleaning comes first: what fastText sees on the first line of the raw text.
    first_line = seed_article.body.splitlines()[0]
    assert LanguageDetector().detect(first_line).language != "fr"


def test_declared_language_disagreeing_is_flagged(
    enricher: Enricher, seed_article: Article
) -> None:
    declared_de = seed_article.model_copy(
        update={"source": Source(feed_id="x", language_hint="de-DE")}
    )
    result = enricher.enrich(declared_de)
    assert result.language == "fr"
    assert result.language_declared == "de"
    assert result.language_mismatch


def test_empty_and_junk_text_do_not_crash(enricher: Enricher, seed_article: Article) -> None:
    empty = enricher.enrich(
        seed_article.model_copy(update={"title": "", "body": "", "summary": ""})
    )
    assert empty.language == "fr"  # nothing to detect: only the feed's declaration is left
    assert empty.languages == ()
    assert empty.notes
    junk = enricher.enrich(
        seed_article.model_copy(update={"title": "", "body": "\x00\x01 ### 1234"})
    )
    assert junk.body == "\x00\x01 ### 1234"


def test_the_connectors_notes_are_kept(enricher: Enricher, seed_article: Article) -> None:
    said = "encoding: none declared; read as windows-1252 (feedparser's detection)"
    empty = {"title": "", "summary": "", "body": ""}
    noted = seed_article.model_copy(update={"notes": (said,), **empty})
    result = enricher.enrich(noted)
    assert result.notes[0] == said
    assert len(result.notes) > 1  # and enrichment's own after it


def test_html_to_text_keeps_blocks_and_drops_scripts() -> None:
    html = "<p>Un&nbsp;<b>deux</b></p><script>var x=1;</script><p>trois &amp; quatre</p>"
    assert Cleaner([]).clean(html) == "Un deux\ntrois & quatre"
    assert html_to_text("pas de balise &eacute;") == "pas de balise é"


def test_boilerplate_matching_is_whole_line_and_case_insensitive() -> None:
    cleaner = Cleaner(["Lire aussi"])
    text = "LIRE AUSSI :\nIl faut lire aussi ce rapport.\n[le lien](https://x.example)"
    assert cleaner.clean(text) == "Il faut lire aussi ce rapport.\nle lien"


def test_boilerplate_prefix_entries_drop_whole_lines() -> None:
    cleaner = Cleaner(["Lire aussi *", "Share on *"])
    text = "Lire aussi : la Russie et la Chine\nLe texte.\nShare on Facebook\nLire le rapport."
    assert cleaner.clean(text) == "Le texte.\nLire le rapport."
