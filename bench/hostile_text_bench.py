"""What text written to trip the name rules costs enrichment: each shape below
(a sentence that sets off one rule, with made-up names) repeated to 25 KB and
to 100 KB (the body's cap), on one line and one sentence a line; CPU seconds of
`Enricher.enrich` for each, this tree's and an older commit's side by side in
the same run (each in its own process, taking turns).

    .venv/bin/python -m bench.hostile_text_bench [--baseline REF] [--no-baseline]

Linear work costs ~4 times as much at 100 KB as at 25 KB; "x4" far above that is
work per name over the whole text or line (quadratic). A worker gives an
article VIGIE_ENRICH_DEADLINE_SECONDS (10 s) before it is dead-lettered as too
slow, so a feed of such text would lose every article past it.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

SIZES = (25_000, 100_000)
_rng = random.Random(3)


def _word(letters: int = 6) -> str:
    """A made-up name no list has (Zorvak)."""
    syllables = (
        _rng.choice("bcdfghjklmnprstvz") + _rng.choice("aeiou") for _ in range(letters // 2)
    )
    return "".join(syllables).title()


def _han(n: int) -> str:
    return "".join(_rng.choice("沙布南道兰阿里克斯伟芳娜敏静丽强磊军洋") for _ in range(n))


def _family() -> str:
    return _rng.choice("王李张刘陈")


SHAPES: dict[str, Callable[[], str]] = {
    "unknown pair": lambda: f"{_word()} {_word()} said.",
    "surname again": lambda: f"{_word()} {_word()} and later {_word()} spoke.",
    "listed with a person": lambda: f"Angela Merkel and {_word()} {_word()},",
    "first name": lambda: f"Jean {_word()} a dit.",
    "role": lambda: f"the spokesman {_word()} {_word()},",
    "role after": lambda: f"{_word()} {_word()}, a spokesperson for the ministry.",
    "surname ending": lambda: f"{_word()} {_word()}enko said.",
    "particles": lambda: f"Marine de la {_word()} van der {_word()}",
    "thing's name": lambda: f"{_word()} {_word()} Industrial Average rose.",
    "long capitalised run": lambda: " ".join(_word() for _ in range(8)) + ".",
    "byline (de)": lambda: f"Ein Test von {_word()} {_word()} (iPhone).",
    "byline (en)": lambda: f"Reporting by {_word()} {_word()} and {_word()} {_word()}.",
    "role, demonym (es)": lambda: f"el senador estadounidense {_word()} {_word()} dijo.",
    "watch-listed": lambda: "Olaf Scholz sagte.",
    "ru oblique case": lambda: f"Вячеслава {_word()}ова заявил.",
    "ur role": lambda: "وزیر دفاع خرم دستگیر نے کہا",
    "zh dotted": lambda: f"{_han(3)}·{_han(3)}说，",
    "zh listed": lambda: f"王小明、{_family()}{_han(2)}、",
    "zh after role": lambda: f"董事长{_family()}{_han(2)}说，",
    "zh name": lambda: f"{_family()}{_han(2)}表示，",
    "ja honorific": lambda: (
        _rng.choice(["田中", "鈴木", "山本"]) + _rng.choice(["さん", "氏"]) + "と"
    ),
    "family, given (ko)": lambda: f"Moon Jae-{_word(2).lower()} and",
    "ship": lambda: f"USS {_word()} {_word()}",
}


def _texts() -> dict[tuple[str, str], str]:
    texts = {}
    for layout, separator in (("one line", " "), ("lines", "\n")):
        for shape, make in SHAPES.items():
            parts: list[str] = []
            size = 0
            while size < SIZES[-1]:
                parts.append(make() + separator)
                size += len(parts[-1])
            texts[(shape, layout)] = "".join(parts)[: SIZES[-1]]
    return texts


def _run() -> dict[str, list[float]]:
    """In a child process, with either tree's packages: CPU seconds per text and size."""
    from datetime import UTC, datetime

    from pipeline.enrichment.enrich import Enricher
    from vigie.article import Article, Source
    from vigie.settings import Settings

    enricher = Enricher.from_settings(Settings())

    def article(body: str) -> Article:
        url = "https://bench.example/hostile"
        return Article(
            id="hostile", url=url, canonical_url=url, source=Source(feed_id="bench"),
            title="", body=body, fetched_at=datetime.now(UTC),
        )  # fmt: skip

    seconds: dict[str, list[float]] = {}
    for (shape, layout), text in _texts().items():
        enricher.enrich(article(text[:300]))  # this language's models loaded
        row = seconds[f"{shape}|{layout}"] = []
        for size in SIZES:
            started = time.process_time()
            enricher.enrich(article(text[:size]))
            row.append(time.process_time() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="029f6ab", help="commit for the 'old' columns")
    parser.add_argument("--no-baseline", action="store_true", help="only this tree")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_run()))
        return
    from bench.baseline import REPO, checkout, run_child

    trees = {"new": REPO} if args.no_baseline else {"old": checkout(args.baseline), "new": REPO}
    results: dict[str, dict[str, list[float]]] = {}
    for code, tree in trees.items():
        done = run_child(tree, Path(__file__).resolve(), ["--child"])
        if done.returncode != 0:
            raise SystemExit(f"{code} ({tree}) failed:\n{done.stderr[-2000:]}")
        results[code] = json.loads(done.stdout)
    print("CPU seconds of Enricher.enrich on a text of each shape, at 25 KB and 100 KB")
    head = f"{'shape':24} {'layout':8} " + " ".join(
        f"{code + ' 25K':>9} {code + ' 100K':>9} {'x4':>5}" for code in trees
    )
    print(head)
    print("-" * len(head))
    worst: dict[str, float] = {}
    for key in results["new"]:
        shape, layout = key.split("|")
        cells = []
        for code in trees:
            small, large = results[code][key]
            worst[code] = max(worst.get(code, 0.0), large)
            cells.append(f"{small:>9.2f} {large:>9.2f} {large / max(small, 1e-3):>5.1f}")
        print(f"{shape:24} {layout:8} " + " ".join(cells))
    print()
    print(
        f"old: commit {args.baseline}; new: this tree. Slowest 100 KB text: "
        + ", ".join(f"{code} {seconds:.2f} s" for code, seconds in worst.items())
        + " (the enrichment deadline: 10 s)."
    )


if __name__ == "__main__":
    main()
