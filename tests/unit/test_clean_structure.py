"""Boilerplate dropped by its shape, in any language (issue #15): link-dense lists
in HTML and a closing block of headline-like lines, with the guards that keep an
article made of short lines or links whole."""

from __future__ import annotations

import time

import pytest

from pipeline.enrichment.clean import Cleaner, drop_closing_block
from vigie.article import Article
from vigie.paths import package_data

PROSE = (
    "Le gouvernement a présenté mardi un plan de relance de l'industrie, qui doit "
    "créer vingt mille emplois d'ici à la fin de la décennie selon le ministre."
)
ARTICLE = "\n".join([PROSE] * 4)
# Not one of these headings is in boilerplate.yaml: every test below uses no list.
bare = Cleaner([])


def test_a_link_dense_list_is_dropped_from_html() -> None:
    html = (
        f"<p>{PROSE}</p><h3>Mehr lesen</h3><ul>"
        "<li><a href='/a'>Brasilien wählt einen neuen Präsidenten</a></li>"
        "<li><a href='/b'>Erdbeben in Japan</a></li>"
        "<li><a href='/c'>Kenia: Dürre im Norden</a></li></ul>"
        f"<p>{PROSE}</p>"
    )
    text = bare.clean(html)
    assert "Brasilien" not in text
    assert "Japan" not in text
    assert "Kenia" not in text
    assert text.count(PROSE) == 2


@pytest.mark.parametrize("tag", ["nav", "aside", "ol", "menu"])
def test_other_link_dense_blocks_are_dropped(tag: str) -> None:
    html = f"<p>{PROSE}</p><{tag}><a href='/a'>Accueil</a> <a href='/b'>Monde</a></{tag}>"
    assert bare.clean(html) == PROSE


def test_a_list_with_some_links_in_its_prose_is_kept() -> None:
    # As 20minutos' bullet points: 0.4-0.5 of the text in links.
    html = (
        f"<p>{PROSE}</p><ul><li>Obama a rappelé <a href='/x'>l'ingérence de la Russie</a> "
        "dans l'élection.</li><li>Les républicains <a href='/y'>font confiance à Poutine</a>"
        ".</li></ul>"
    )
    assert "l'ingérence de la Russie" in bare.clean(html)


def test_a_list_of_one_link_is_kept() -> None:
    html = f"<p>{PROSE}</p><ul><li><a href='/r'>Le rapport de l'ONU sur le Soudan</a></li></ul>"
    assert "Soudan" in bare.clean(html)


def test_a_page_that_is_a_list_of_links_is_kept() -> None:
    html = (
        "<p>Liens du jour</p><ul><li><a href='/a'>Le Chili vote</a></li>"
        "<li><a href='/b'>Le Pérou aussi</a></li></ul>"
    )
    assert bare.clean(html) == "Liens du jour\nLe Chili vote\nLe Pérou aussi"


@pytest.mark.parametrize(
    "heading",
    ["Related", "Most read", "Lesen Sie auch", "Leia também", "Читайте также", "Lee más"],
)
def test_a_closing_block_of_headlines_is_dropped_with_its_heading(heading: str) -> None:
    headlines = [
        heading,
        "Brazil's president visits Argentina",
        "Is Japan ready for the next earthquake?",  # a question is still a headline
        "Kenya drought: millions at risk",
    ]
    assert bare.clean("\n".join([ARTICLE, *headlines])) == ARTICLE


def test_a_closing_block_in_chinese_is_dropped() -> None:
    prose = "\n".join(
        [
            "国务院周二公布了新的产业振兴计划，预计到本十年末将创造两万个就业岗位，财政部长在发布会上表示。"
        ]
        * 4
    )
    block = [
        "相关阅读",
        "巴西总统访问阿根廷",
        "日本准备好迎接下一次地震了吗",
        "肯尼亚干旱数百万人面临风险",
    ]
    assert bare.clean("\n".join([prose, *block])) == prose


def test_a_markdown_list_of_links_closing_the_text_is_dropped() -> None:
    links = "- [Le Chili vote](https://x.example/a)\n- [Le Pérou aussi](https://x.example/b)"
    assert bare.clean(f"{ARTICLE}\n\nÀ la une\n{links}") == ARTICLE


def test_short_lines_inside_the_text_are_kept() -> None:
    # Subheadings, a dateline: short lines followed by prose are the article's.
    text = "\n".join([PROSE, "Un plan", "Trois volets", "Le calendrier", PROSE])
    assert bare.clean(text) == text


def test_two_closing_short_lines_are_kept() -> None:
    # A byline and a date, a signature: too common to be a block of headlines.
    text = "\n".join([PROSE, "Jean Dupont", "Paris, 3 mars"])
    assert bare.clean(text) == text


def test_lines_that_end_sentences_are_not_headlines() -> None:
    text = "\n".join([PROSE, "Il pleut.", "Le vent souffle.", "La Loire déborde."])
    assert bare.clean(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "Le Chili vote dimanche",  # a title alone
        "Le Chili vote\nLe Pérou aussi\nLa Bolivie attend\nL'Équateur compte",  # short lines only
        # a list-style article: a short intro, then more list than prose
        f"{PROSE}\nLisbonne, la plus ancienne\nVienne et ses cafés\nPrague\nBudapest\nCracovie",
        # a photo gallery: captions outweigh the one line of text
        f"{PROSE}\n" + "\n".join(f"Photo {i}: la tour de Londres, 1890" for i in range(12)),
        # a Chinese forum post of short lines, no sentence of prose
        "建国35周年纪念\n35周年1套520\n一起出7枚680元\n电话微信确认运费到付",
        # a Japanese job offer
        "勤務形態: フルタイム\n勤務地: 東京（赤坂）\n職種: カスタマーサポート\n募集人数: 若干名",
    ],
)
def test_a_text_of_short_lines_is_kept_whole(text: str) -> None:
    assert bare.clean(text) == text


def test_chinese_sentences_are_not_short_lines() -> None:
    # Without spaces a line is one "word": its characters are counted instead, so
    # these closing lines (no full stop, as in chat and forum text) are prose.
    prose = ["国务院周二公布了新的产业振兴计划，预计到本十年末将创造两万个就业岗位。"] * 12
    closing = ["财政部长在发布会上表示这一计划将优先支持中西部地区的制造业企业"] * 3
    assert drop_closing_block(prose + closing) == prose + closing


def test_the_sample_feed_article_keeps_its_body(seed_article: Article) -> None:
    # The reference article, as the sample feed carries it (../shared is not in a clone).
    cleaner = Cleaner.from_config(package_data() / "boilerplate.yaml")
    body = cleaner.clean(seed_article.body)
    lines = body.split("\n")
    assert drop_closing_block(lines) == lines
    assert body.endswith("à la fin de 2019.")
    assert "Kim Jong-un responded with insults" in body


@pytest.mark.parametrize(
    "text",
    [
        "a\n" * 50_000,
        "中文\n" * 33_000,
        "<ul><li><a href='x'>x</a>" * 6_000,
        "<ul>" * 25_000 + "<li><a>a</a><a>b</a>",
        "<div>" * 20_000 + "<ul><li><a>x</a><a>y</a></ul>" * 30,
        "<ul><li><a href='x'>x</a></li><li><a>y</a></li></ul>" * 4_000,
    ],
    ids=["short-lines", "cjk-lines", "nested-lists", "empty-nesting", "deep-lists", "many-lists"],
)
def test_hostile_shapes_cost_bounded_time(text: str) -> None:
    started = time.process_time()
    bare.clean(text)
    assert (
        time.process_time() - started < 5.0
    )  # CPU: the HTML parse alone takes ~1.5 s on the deepest
