"""``meshmill catalog check``'s Dagster half: which runs are alive, and whether partitions and catalog agree.

``catalog.consistency`` compares the catalog with the blob store and asks here whether a run is alive.
This module adds what only the Dagster instance knows:

- ``dead_run``: a run still ``STARTED`` whose process on this host is gone (a `kill -9`, the OOM killer);
  it may hold a ``gpu`` pool slot. Repair: the run is failed and its slots are freed (``release_orphaned_runs``,
  what the next ``convert`` and the daemon's ``orphaned_runs_sensor`` do too);
- ``partition_without_source``: an image partition no catalogued object has, or a variant partition no
  variant has. Repair: the partition is removed.

Catalogued objects with no output made yet are not a problem: they were ingested and not yet converted (or their
convert was stopped); the report counts them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg
from sqlalchemy import Engine, func, select

from assets.partitions import images, variants
from catalog import BlobStore, OutputStatus
from catalog.consistency import DEFAULT_GRACE, Finding, check_catalog, repair_catalog
from catalog.keys import hash_prefix_of, image_partition_key
from catalog.models import Output, SourceImage, Variant
from orchestration.instance import orphaned_runs, release_orphaned_runs

_ALIVE = {dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
          dg.DagsterRunStatus.CANCELING}  # fmt: skip


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    not_converted: int = 0  # catalogued objects with no output made yet (a partition alone is not a made output)

    @property
    def problems(self) -> list[Finding]:
        """What is still wrong: findings not repaired. Unknown blobs are only reported: a shared bucket may hold others' files."""
        return [f for f in self.findings if not f.repaired and f.kind != "unknown_blob"]


def check(
    instance: dg.DagsterInstance | None,
    engine: Engine,
    blobs: BlobStore,
    *,
    repair: bool = False,
    grace: float = DEFAULT_GRACE,
    deep: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> CheckReport:
    """Every disagreement between the Dagster instance, the catalog and the blob store; with ``repair``, mended;
    with ``deep``, every blob's content is hashed too (``progress`` as in ``check_catalog``). Without an ``instance``
    (Dagster's storage could not be opened) the catalog and the store alone: no runs, no partitions, no repair of
    attempts left open (each is taken as still running)."""
    dead = {run.run_id for run in orphaned_runs(instance)} if instance is not None else set()

    def run_alive(run_id: str) -> bool:
        if instance is None:
            return True
        run = instance.get_run_by_id(run_id)
        return run is not None and run.status in _ALIVE and run_id not in dead

    report = CheckReport(
        [Finding("dead_run", run_id, "still STARTED, but the process running it is gone", "fail the run, free its pool slots")
         for run_id in sorted(dead)]
    )  # fmt: skip
    report.findings += check_catalog(engine, blobs, run_alive=run_alive, grace=grace, deep=deep, progress=progress)
    with engine.connect() as conn:
        named = conn.execute(select(SourceImage.__table__.c.content_hash, SourceImage.__table__.c.filename)).all()
        variant_names = set(conn.execute(select(Variant.__table__.c.name)).scalars())
        sources, outputs = SourceImage.__table__, Output.__table__
        made = select(outputs.c.source_image_id).where(outputs.c.status == OutputStatus.succeeded.value)
        report.not_converted = conn.execute(select(func.count()).select_from(sources).where(sources.c.id.not_in(made))).scalar_one()
    if instance is None:
        if repair:
            raise ValueError("--repair needs Dagster's storage, which could not be opened")
        return report
    catalogued = {image_partition_key(h, name) for h, name in named}
    partitions = set(instance.get_dynamic_partitions(images.name))
    renamed = {hash_prefix_of(key): key for key in catalogued}  # a key from before keys carried names is all hash
    for key in sorted(partitions - catalogued):
        detail = "no catalogued object has it"
        if key in renamed:
            detail = f"the key its object had before partition keys carried names: it is {renamed[key]} now (the runs stay)"
        report.findings.append(Finding("partition_without_source", f"images/{key}", detail, "remove the partition"))
    for name in sorted(set(instance.get_dynamic_partitions(variants.name)) - variant_names):
        report.findings.append(Finding("partition_without_source", f"variants/{name}", "no variant has this name", "remove the partition"))
    if repair:
        _repair(instance, engine, blobs, report.findings)
    return report


def _repair(instance: dg.DagsterInstance, engine: Engine, blobs: BlobStore, findings: list[Finding]) -> None:
    released = set(release_orphaned_runs(instance, engine))  # with the attempts these runs left open
    for finding in findings:
        if finding.kind == "dead_run":
            finding.repaired = finding.subject in released
        elif finding.kind == "partition_without_source":
            definition, key = finding.subject.split("/", 1)
            instance.delete_dynamic_partition(definition, key)
            finding.repaired = True
    repair_catalog(engine, blobs, findings)
