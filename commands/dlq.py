"""`vigie dlq list|replay`: what is on the dead-letter topic, and sending it back
to where it came from once the cause is fixed (the logic is in vigie/dlq.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from commands.common import command_settings, failure

dlq_app = typer.Typer(help="Dead letters (news.dlq): list them, replay them after a fix.")

_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}

Stage = Annotated[
    str | None,
    typer.Option(help="Only this stage's letters: connector, enrich, index, match, deliver."),
]
Since = Annotated[
    str | None,
    typer.Option(
        help="Only letters failed at or after this: an ISO date, or an age (30m, 2h, 7d)."
    ),
]


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    if ago := _AGO.match(value.strip()):
        return datetime.now(UTC) - timedelta(seconds=float(ago[1]) * _UNIT[ago[2]])
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is neither an ISO date (2025-02-09, 2025-02-09T10:00Z) nor an age (2h)"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dlq_app.command("list")
def dlq_list(
    stage: Stage = None,
    since: Since = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per letter, as written, with its place.")
    ] = False,
) -> None:
    """List the dead letters on the DLQ (up to its end when the command starts)."""
    from vigie.dlq import DlqError, read_letters

    settings = command_settings()
    count = replayable = 0
    try:
        for letter in read_letters(settings, stage=stage, since=_since(since)):
            count += 1
            replayable += letter.problem is None
            if as_json:
                typer.echo(json.dumps(letter.summary(), ensure_ascii=False))
                continue
            where = (
                f"{letter.topic}[{letter.record.get('partition')}]@{letter.record.get('offset')}"
            )
            size = f"{len(letter.payload)} bytes" if letter.payload is not None else "-"
            typer.echo(
                f"{letter.partition}:{letter.offset}  {letter.record.get('failed_at', '?')}  "
                f"{letter.stage}  {where}  {size}  {letter.record.get('reason', '')}"
            )
            if letter.problem:
                typer.echo(f"    not replayable: {letter.problem}")
    except DlqError as exc:
        raise failure(f"cannot read {settings.topic_dlq}: {exc}") from exc
    if not as_json:
        typer.echo(f"{count} letters on {settings.topic_dlq}, {replayable} replayable")


@dlq_app.command("replay")
def dlq_replay(
    stage: Stage = None,
    since: Since = None,
    dry_run: Annotated[bool, typer.Option(help="Say what would be sent; send nothing.")] = False,
) -> None:
    """Send the letters' original bytes back to their original topics, after a fix.

    Letters without a payload are skipped with the reason; exit 1 if Kafka did not
    take them all.
    """
    from vigie.dlq import DlqError, read_letters, replay

    settings = command_settings()
    try:
        letters = read_letters(settings, stage=stage, since=_since(since))
        if dry_run:
            for letter in letters:
                verb = "would skip" if letter.problem else "would send"
                typer.echo(
                    f"{verb} {letter.partition}:{letter.offset} -> {letter.topic}"
                    + (f" ({letter.problem})" if letter.problem else "")
                )
            return
        done = replay(settings, letters)
    except DlqError as exc:
        raise failure(f"replay failed: {exc}") from exc
    for letter in done.sent:
        typer.echo(f"sent {letter.partition}:{letter.offset} ({letter.stage}) -> {letter.topic}")
    for letter in done.skipped:
        typer.echo(f"skipped {letter.partition}:{letter.offset} ({letter.stage}): {letter.problem}")
    for letter, reason in done.failed:
        typer.echo(
            f"failed {letter.partition}:{letter.offset} -> {letter.topic}: {reason}", err=True
        )
    typer.echo(f"{len(done.sent)} sent, {len(done.skipped)} skipped, {len(done.failed)} failed")
    if done.failed:
        raise typer.Exit(code=1)
