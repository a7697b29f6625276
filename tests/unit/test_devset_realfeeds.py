"""The real-feed dev set's labels: only valid codes and ids, and the passage cut
and scoring rules. That each label still names the passage it was made on (same
text, by hash) is checked by `python -m bench.enrich_eval`, which reads them from
../shared/realfeeds and stops naming the first that differs: a CI clone elsewhere
has no such folder."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml
from babel import Locale

from bench.enrich_eval import Score, names_match, score_persons
from bench.realfeeds_devset import cut, load_annotations
from vigie.paths import package_data


def test_labels_are_valid_codes_and_ids() -> None:
    annotations = load_annotations()
    languages = Counter(a.lang for a in annotations)
    assert len(languages) >= 10
    for lang in languages:
        assert len(lang) == 2
        assert Locale.parse(lang).language == lang
    territories = set(Locale("en").territories)
    watchlist = set(yaml.safe_load((package_data() / "taxonomy" / "persons.yaml").read_text()))
    for a in annotations:
        assert all(len(c) == 2 and c in territories for c in a.countries), a.id
        assert len(set(a.countries)) == len(a.countries), a.id
        ids = [p for p in a.persons if p.startswith("person:")]
        assert set(ids) <= watchlist, a.id
        assert not set(a.persons) & set(a.authors), a.id


def test_the_cut_ends_at_a_sentence_within_the_limit() -> None:
    text = "Une phrase. " * 200
    passage = cut(text)
    assert len(passage) <= 1200
    assert passage.endswith(".")
    assert cut("court") == "court"
    assert len(cut("x" * 5000)) == 1200


@pytest.mark.parametrize(
    ("label", "found", "same"),
    [
        ("Alexis Pinturault", "Pinturault", True),
        ("Jean-Noël Barrot", "jean noel barrot", True),
        ("Eric Trump", "Trump", True),
        ("Eric Trump", "Donald Trump", False),
        ("Zeev Suraski", "Zeev", True),
        ("沙布南·道兰", "道兰", True),
        ("Karl-Heinz Rummenigge", "Karl", True),
        ("Ryan Grantham", "Grant", False),
    ],
)
def test_person_names_match_by_whole_words(label: str, found: str, same: bool) -> None:
    assert names_match(label, found) is same


def test_persons_are_scored_by_id_else_by_name() -> None:
    score = Score()
    labels = ["person:donald-trump", "Eric Trump", "Keir Starmer"]
    score_persons(score, labels, {"person:donald-trump", "Starmer", "Keir Starmer", "Nobody"}, "x")
    assert (score.tp, score.fp, score.fn) == (2, 1, 1)
