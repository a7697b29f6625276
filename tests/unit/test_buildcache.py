"""The gazetteer cache: built once per set of inputs, never read stale, never in the way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.enrichment.buildcache import load_gazetteer
from pipeline.enrichment.gazetteer import Gazetteer, Labels
from pipeline.enrichment.matcher import Pattern
from vigie.paths import package_data


class _Builds:
    """Stands in for the real build (7 s of CLDR and GeoNames): counts the builds,
    and makes each gazetteer tell which build it came from."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, taxonomy_dir: Path, display_language: str = "fr") -> Gazetteer:
        self.count += 1
        form = f"build {self.count} of {(taxonomy_dir / 'places.yaml').read_text()[:20]}"
        return Gazetteer([Pattern("country:FR", "LOC", form)], Labels(display_language, {}, {}))


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> _Builds:
    fake = _Builds()
    monkeypatch.setattr(Gazetteer, "load", fake)
    return fake


@pytest.fixture
def taxonomy(tmp_path: Path) -> Path:
    copy = tmp_path / "taxonomy"
    shutil.copytree(package_data() / "taxonomy", copy)
    return copy


def test_the_second_start_reads_what_the_first_built(
    builds: _Builds, taxonomy: Path, tmp_path: Path
) -> None:
    first = load_gazetteer(taxonomy, "fr", tmp_path / "cache")
    second = load_gazetteer(taxonomy, "fr", tmp_path / "cache")
    assert builds.count == 1
    assert second.patterns == first.patterns
    assert len(list((tmp_path / "cache").glob("gazetteer-*.pickle"))) == 1


def test_a_changed_taxonomy_or_language_is_built_again(
    builds: _Builds, taxonomy: Path, tmp_path: Path
) -> None:
    load_gazetteer(taxonomy, "fr", tmp_path / "cache")
    load_gazetteer(taxonomy, "en", tmp_path / "cache")
    assert builds.count == 2
    places = taxonomy / "places.yaml"
    places.write_text("# edited\n" + places.read_text())
    edited = load_gazetteer(taxonomy, "fr", tmp_path / "cache")
    assert builds.count == 3
    assert "edited" in edited.patterns[0].form


def test_a_damaged_file_is_built_again_and_replaced(
    builds: _Builds, taxonomy: Path, tmp_path: Path
) -> None:
    load_gazetteer(taxonomy, "fr", tmp_path / "cache")
    (cached,) = (tmp_path / "cache").glob("gazetteer-*.pickle")
    cached.write_bytes(cached.read_bytes()[:100])
    assert load_gazetteer(taxonomy, "fr", tmp_path / "cache").patterns
    load_gazetteer(taxonomy, "fr", tmp_path / "cache")
    assert builds.count == 2


def test_a_cache_that_cannot_be_written_only_costs_the_build(
    builds: _Builds, taxonomy: Path, tmp_path: Path
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    for _ in range(2):
        assert load_gazetteer(taxonomy, "fr", blocked / "cache").patterns
    assert builds.count == 2


def test_a_file_others_could_have_written_is_not_read(
    builds: _Builds, taxonomy: Path, tmp_path: Path
) -> None:
    load_gazetteer(taxonomy, "fr", tmp_path / "cache")
    (cached,) = (tmp_path / "cache").glob("gazetteer-*.pickle")
    cached.chmod(0o666)
    load_gazetteer(taxonomy, "fr", tmp_path / "cache")
    assert builds.count == 2


_DIGEST = """
import hashlib
from pathlib import Path
from pipeline.enrichment.gazetteer import Gazetteer
from vigie.paths import package_data
g = Gazetteer.load(package_data() / "taxonomy", "fr")
canon = [
    (p.id, p.type, p.form, p.case, p.max_extra, tuple(sorted(p.languages or ())))
    for p in g.patterns
]
print(len(canon), hashlib.sha256(repr(canon).encode()).hexdigest())
"""


def test_the_gazetteer_is_built_the_same_whatever_the_hash_seed() -> None:
    """Set order changes with each process's hash seed: it used to decide which
    spelling of a city won a tie, so two workers tagged some names differently
    (141,848 patterns in one process, 141,840 in the next)."""
    root = Path(__file__).resolve().parents[2]
    digests = {
        subprocess.run(
            [sys.executable, "-c", _DIGEST],
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1, digests
