"""What the worker needs in the engine before it writes or matches anything: the
indices (pipeline/search/templates.py `setup`) and the rules of alerts.yaml. Done
at start when the engine answers, else before the first batch, retried while the
engine is down."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pipeline.alerts.store import RuleStore
from pipeline.search.engine import SearchEngine, when_available
from pipeline.search.templates import Indices, setup
from vigie import logs

log = logs.get(__name__)


class EngineSetup:
    def __init__(
        self, engine: SearchEngine, indices: Indices, config_dir: Path, rules_file: Path
    ) -> None:
        self._engine = engine
        self._indices = indices
        self._config_dir = config_dir
        self._rules_file = rules_file
        self._done = False
        self._lock = asyncio.Lock()

    def run(self) -> None:
        """Raises SearchEngineError (EngineUnavailable: try later) or SetupError."""
        for line in setup(self._engine, self._indices, self._config_dir):
            log.info("search_setup", done=line)
        loaded, errors = RuleStore(self._engine, self._indices.rules).load(self._rules_file)
        for error in errors:
            log.error("alert_rule_invalid", reason=str(error))
        log.info("alert_rules_loaded", count=loaded, invalid=len(errors))
        self._done = True

    async def ready(self) -> None:
        if self._done:
            return
        async with self._lock:
            if not self._done:
                await when_available(self.run, "search_setup")
