"""An asset body over every partition of its run, one partition at a time, so that a batch is one run.

A run targets one partition (the UI's "Materialize") or a range of them (`meshmill convert`, a
backfill). Were an asset to return once for a range, Dagster would record every partition of the range
as materialised, the bad image's too (dagster issue 17836). Instead, the bodies here materialise each
partition themselves as soon as it is made, and the step fails at the end naming the partitions that
failed. Dagster planned every partition of the range when the run started, so in the UI those it
never saw materialised show as failed, and the rest as materialised, each with its own metadata.

Transient faults (database, S3, network, a model server) are retried for the partition alone; bad
input and a missing model fail it at once. A step run again in the same run (a retry, or a Celery
worker's task delivered again after the worker died) skips what the run already materialised.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import dagster as dg
from dagster._core.errors import DagsterInvalidPropertyError

from assets.faults import BAD_INPUT, not_retried

#: tries per partition for faults that are not bad input, and the first pause between them (doubling)
TRIES = 3
FIRST_PAUSE = 2.0

Event = dg.AssetMaterialization | dg.AssetCheckEvaluation
#: when the run's work was planned (ISO 8601): ``meshmill convert`` tags its runs with the moment it looked for what
#: was made, so an output another run makes after that is not made again (``catalog.claims``)
PLANNED_TAG = "meshmill/planned_at"


def run_id_of(context: dg.AssetExecutionContext) -> str | None:
    """The run's id; None when a test calls the asset as a function, outside any run."""
    try:
        return context.run.run_id
    except DagsterInvalidPropertyError:  # no public name for it
        return None


def planned_at(context: dg.AssetExecutionContext) -> datetime | None:
    """When the run's work was planned: ``PLANNED_TAG``, else when the run was made; None outside a run."""
    run_id = run_id_of(context)
    if run_id is None:
        return None
    said = context.run.tags.get(PLANNED_TAG)
    if said:
        return datetime.fromisoformat(said)
    record = context.instance.get_run_record_by_id(run_id)
    return record.create_timestamp if record is not None else None


def materialised_in_run(context: dg.AssetExecutionContext) -> set[tuple[dg.AssetKey, str]]:
    """(asset, partition) pairs this run has materialised already."""
    done: set[tuple[dg.AssetKey, str]] = set()
    run_id, cursor = run_id_of(context), None
    while run_id is not None:
        page = context.instance.get_records_for_run(
            run_id=run_id, cursor=cursor, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=1000
        )
        for record in page.records:
            event = record.event_log_entry.dagster_event
            if event is not None and event.partition is not None:
                done.add((event.asset_key, event.partition))
        if not page.has_more:
            break
        cursor = page.cursor
    return done


def _one_try(work: Callable[[str], Iterable[Event]], key: str) -> tuple[list[Event], Exception | None]:
    events: list[Event] = []
    try:
        for event in work(key):
            events.append(event)
    except Exception as exc:  # the partition's problem: handed to the caller, which decides
        return events, exc
    return events, None


def each_partition(
    context: dg.AssetExecutionContext, work: Callable[[str], Iterable[Event]], describe: Callable[[str], str] = str
) -> Iterator[Event]:
    """Run ``work(partition_key)`` for every partition of the run and yield what it materialised.

    ``describe(key)`` names a partition in messages (e.g. the image's file name). Raises
    ``dagster.Failure`` at the end, naming every partition that failed and why.
    """
    done = materialised_in_run(context)
    selected = context.selected_asset_keys
    failures: dict[str, str] = {}
    keys = context.partition_keys
    for key in keys:
        if all((asset, key) in done for asset in selected):
            continue
        for attempt in range(1, TRIES + 1):
            events, error = _one_try(work, key)
            if error is None or isinstance(error, BAD_INPUT) or not_retried(error) is not None or attempt == TRIES:
                break
            context.log.warning(f"{describe(key)}: {error!r}; trying again ({attempt} of {TRIES})")
            time.sleep(FIRST_PAUSE * 2 ** (attempt - 1))
        yield from events  # what it made before failing (e.g. the cut-out of an image whose upscale failed)
        if error is not None:
            failures[key] = describe_error(error)
            context.log.error(f"{describe(key)}: {failures[key]}")
    if failures:
        listing = "\n".join(f"- {describe(key)}: {error}" for key, error in failures.items())
        raise dg.Failure(
            description=f"{len(failures)} of {len(keys)} partition(s) failed; the others are materialised:\n{listing}",
            metadata={"failed": dg.MetadataValue.json(failures)},
            allow_retries=False,
        )


def describe_error(error: Exception) -> str:
    """One line for a partition's failure: bad input says it all; other faults are named by their type."""
    if isinstance(error, BAD_INPUT):
        return str(error)
    said = not_retried(error)
    lines = str(error).strip().splitlines()  # a database error goes on with its SQL and parameters: not for people
    return f"{type(error).__name__}: {said or (lines[0] if lines else '')}"


def failed_partitions(failure_metadata: dict[str, Any]) -> dict[str, str]:
    """The partitions (and their errors) a step's ``each_partition`` failure named, from the failure's metadata."""
    value = failure_metadata.get("failed")
    data = getattr(value, "data", value)
    if isinstance(data, str):
        data = json.loads(data)
    return dict(data or {})
