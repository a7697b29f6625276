"""Issue #15: persons in Japanese and Chinese text, from a tokenizer's dictionary
(pipeline/enrichment/cjk_people.py). The sentences are written for these tests."""

from __future__ import annotations

import time

import pytest

from pipeline.enrichment import cjk_people
from pipeline.enrichment.cjk_people import CjkPeople
from pipeline.enrichment.enrich import Enricher
from pipeline.enrichment.people import Span, person_id
from tests.conftest import enrich_text


def _persons(enricher: Enricher, body: str, hint: str) -> dict[str, str]:
    result = enrich_text(enricher, body, hint)
    return {t.id: t.label for t in result.tags if t.kind == "person"}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # a family name and a given name, without a cue
        ("昨日、森川洋平が新しい会社を立ち上げたと発表した。", "森川洋平"),
        # a given name the tokenizer cut in two (晋 | 三元), whole again
        ("北条晋三元会長は記者団の取材に応じた。", "北条晋三"),
        # the same with a space between them: one id, without the space
        ("研究所の所長、森川 洋平は実験の成功を報告した。", "森川洋平"),
        # a family name alone, before an honorific
        ("会議には高木さんも出席し、意見を述べた。", "高木"),
        # a family name alone, before a role of names.yaml
        ("試合の後、長谷部監督は選手たちをたたえた。", "長谷部"),
        # a foreign name in katakana with a middle dot
        ("創業者のエミリー・ハートは新製品を紹介した。", "エミリー・ハート"),
        # Latin words before an honorific
        ("講演ではMarta Kowalczyk氏が新しい仕様を説明した。", "Marta Kowalczyk"),
    ],
)
def test_japanese_persons(enricher: Enricher, text: str, name: str) -> None:
    assert person_id(name) in _persons(enricher, text, "ja")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # a name the dictionary does not have, read as one by the HMM
        ("梁文涛表示，新工厂将在明年投产。", "梁文涛"),
        # before a time word, then the verb
        ("梁文涛今天宣布，新工厂将在明年投产。", "梁文涛"),
        # a full name jieba's dictionary has, before a verb
        ("会后王小明说，他对结果很满意。", "王小明"),
        # a name the HMM glued the next word to (为)
        ("董事会宣布委任蒋文博为公司副总经理。", "蒋文博"),
        # a transliterated name after a role
        ("外交部长拉姆齐说，谈判仍在进行。", "拉姆齐"),
        # a dotted name ends with the tokenizer's word, not four characters later
        ("著名导演马克·霍尔曼拍摄新片，预计明年上映。", "马克·霍尔曼"),
        # a name in a list beside a person
        ("该片由艾米丽·沃森、周海林等主演。", "周海林"),
    ],
)
def test_chinese_persons(enricher: Enricher, text: str, name: str) -> None:
    assert person_id(name) in _persons(enricher, text, "zh")


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        # organisations and places, whose names open on a family name
        ("早稲田大学と長野県松本市の企業が共同研究を始めた。", "ja"),
        ("本田技研工業と日産自動車の提携が話題になった。", "ja"),
        ("上海市卫健委发布通知，黄浦区将实施新的防疫措施。", "zh"),
        ("安卓手机和谷歌浏览器的新版本同时发布。", "zh"),
        # dictionary words jieba tags as names: before a noun, with a particle
        ("小区的纪念堂旁边新开了一家超市。", "zh"),
        ("书中讲的是屠龙之术，没有什么实际用处。", "zh"),
    ],
)
def test_places_and_organisations_are_not_persons(enricher: Enricher, text: str, hint: str) -> None:
    assert not [p for p in _persons(enricher, text, hint) if p.startswith("person:~")]


def test_a_watch_listed_name_keeps_its_id(enricher: Enricher) -> None:
    # ジョー・バイデン: the surname after the middle dot is the watchlist's alias
    persons = _persons(enricher, "ジョー・バイデン大統領は演説で協力を呼びかけた。", "ja")
    assert "person:joe-biden" in persons
    assert not [p for p in persons if p.startswith("person:~")]


def test_a_place_inside_a_dotted_name_gives_way(enricher: Enricher) -> None:
    # 查德 (Chad) inside 理查德: the dotted name is a person, not a mention of Chad
    article_persons = _persons(enricher, "演员理查德·霍尔出席了首映式。", "zh")
    assert person_id("理查德·霍尔") in article_persons


def test_a_name_alone_on_its_line_is_an_author() -> None:
    found = CjkPeople({}, {}).find("【2】梁文涛\n梁文涛表示，新工厂将投产。", "zh", [], [])
    assert [(n.start, n.author) for n in found.names] == [(3, True), (7, False)]


def test_tokenizers_load_only_for_their_language() -> None:
    cjk_people._sudachi.cache_clear()
    cjk_people._jieba.cache_clear()
    finder = CjkPeople({}, {})
    finder.find("Steve Klabnik a annoncé la fin de l'équipe.", "fr", [], [])
    finder.find("no Han or kana here", "zh", [], [])
    assert cjk_people._sudachi.cache_info().currsize == 0
    assert cjk_people._jieba.cache_info().currsize == 0
    finder.find("梁文涛表示，新工厂将投产。", "zh", [Span(0, 1, "x", "LOC")], [])
    assert cjk_people._jieba.cache_info().currsize == 1
    assert cjk_people._sudachi.cache_info().currsize == 0


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("王小明说他很满意，张伟和刘洋出席了会议。" * 5_000, "zh"),
        ("李华先生、" * 20_000, "zh"),
        ("田中さんと鈴木氏が出席し、山本社長があいさつした。" * 4_000, "ja"),
        # One name, again and again: how often the text says it is counted once
        # (counted at each mention, this took 9 s).
        ("莫婷称，" * 25_000, "zh"),
    ],
    ids=["zh-sentences", "zh-one-long-list", "ja-sentences", "zh-one-name-repeated"],
)
def test_a_long_text_of_names_costs_linear_time(text: str, language: str) -> None:
    finder = CjkPeople({"ja": frozenset({"社長"})}, {})
    finder.find("王小明说。田中さん", language, [], [])  # the tokenizer loaded
    started = time.process_time()
    assert finder.find(text, language, [], []).names
    # ~1.5 s here for 100,000 characters; the per-name scans it had took 20-40 s
    assert time.process_time() - started < 8.0


def test_a_name_does_not_run_across_lines() -> None:
    finder = CjkPeople({}, {})
    # a family name ending one line and a given name opening the next: two lines
    assert not finder.find("会議に出たのは森川\n洋平の話だった。", "ja", [], []).names
    assert finder.find("会議に出たのは森川洋平だった。", "ja", [], []).names
