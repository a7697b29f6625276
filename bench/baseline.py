"""The code of another commit, for benches that compare it with the working tree
in the same run: `git archive` of the commit into a temporary folder, put first
on a child process's PYTHONPATH (the child's script is this tree's)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The enrichment before issue #14 part 3 (ahocorasick-rs, bounded language sample,
# word-hash memo, selectolax): what the faster path is compared with.
BEFORE_FAST_ENRICHMENT = "78148bc"


def checkout(ref: str) -> Path:
    """A folder holding the tree of `ref` (reused while it exists)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    folder = Path(tempfile.gettempdir()) / f"vigie-baseline-{commit[:12]}"
    if not (folder / "pipeline").is_dir():
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit], cwd=REPO, capture_output=True, check=True
        ).stdout
        partial = Path(tempfile.mkdtemp(prefix=folder.name, dir=folder.parent))
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(partial, filter="data")
        with contextlib.suppress(OSError):  # another run got there first
            partial.rename(folder)
    return folder


def run_child(tree: Path, script: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """`script` run with `tree`'s packages (and only them) importable."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=tree, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
