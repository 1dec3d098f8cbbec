"""Sensors: an inbox folder feeding the pipeline, and the 3D stages following the image stages.

``inbox_sensor`` ingests new images and view sets under ``$MESHMILL_INBOX`` (default ``$MESHMILL_HOME/inbox``),
in the layouts ``orchestration.source_sets`` reads (move a set in whole: a set is taken when its newest file
is): the first sub-folder names the collection, and an object's label sidecar (``<image>.json``, read as ``ingest``
reads it: ``orchestration.source_sets``) may add tags, collections, an origin and its real height. It adds image partitions and requests
the image stages with run keys. ``variants_sensor`` then requests ``mesh`` + ``textured_glb`` for
every variant of each image whose ``upscaled_image`` was materialised. Both keep a cursor, and run
keys make a repeated request a no-op, so restarts neither skip nor repeat work. ``orphaned_runs_sensor``
(on by default) is run monitoring for the runs ``convert`` launches itself: it fails those whose process
died and frees their pool slots. ``remakes_sensor`` (on by default) queues the runs a reviewer asked for in the web
app ("make it again with another seed", "make it as variant X"): one run of the 3D stages per remake, tagged with
who asked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from assets.partitions import images, variants
from assets.resources import CatalogResource
from assets.variants import another_seed_variant
from catalog import CatalogError, LabelError, list_variants, partition_keys, remakes_after, settle_remake
from catalog.config import meshmill_home
from orchestration.ingest import ingest_set
from orchestration.instance import release_orphaned_runs
from orchestration.jobs import image_job, model_job
from orchestration.source_sets import SetProblem, SourceSet, discover_sets, label_sidecar

BATCH = 50  # files ingested per sensor tick; the rest wait for the next one


def inbox_folder() -> Path:
    return Path(os.environ.get("MESHMILL_INBOX") or meshmill_home() / "inbox")


def _folder_collection(found: SourceSet, inbox: Path) -> list[str]:
    """The first sub-folder the object sits in names its collection (its sidecar may add more)."""
    relative = found.folder.relative_to(inbox)
    return [relative.parts[0]] if relative.parts else []


def _newest(found: SourceSet | SetProblem) -> int:
    """When the object's files last changed (a set is as new as its newest view or sidecar)."""
    files = [found.where] if isinstance(found, SetProblem) else [*found.views.values(), found.where, label_sidecar(found)]
    return max((p.stat().st_mtime_ns for p in files if p.exists()), default=0)


@dg.sensor(job=image_job, minimum_interval_seconds=30, description="Ingests new images and view sets from the inbox folder.")
def inbox_sensor(context: dg.SensorEvaluationContext, catalog: CatalogResource) -> dg.SensorResult:
    inbox = inbox_folder()
    seen = json.loads(context.cursor) if context.cursor else {"mtime_ns": 0}
    if not inbox.is_dir():
        return dg.SensorResult(skip_reason=f"inbox {inbox} does not exist", cursor=json.dumps(seen))
    candidates = []
    for found in discover_sets([inbox], report_empty=False):
        try:
            mtime = _newest(found)
        except OSError:  # gone while we looked: the next tick sees what is there
            continue
        if mtime > seen["mtime_ns"]:
            candidates.append((mtime, str(found.where), found))
    candidates = sorted(candidates, key=lambda c: c[:2])[:BATCH]
    engine, blobs = catalog.engine(), catalog.blobs()
    hashes: list[str] = []
    for mtime, _, found in candidates:
        seen["mtime_ns"] = mtime
        if isinstance(found, SetProblem):
            context.log.warning(f"{found.where}: {found.detail}")
            continue
        try:
            result = ingest_set(found, engine, blobs, collections=_folder_collection(found, inbox))
        except (ValueError, OSError) as exc:  # a bad sidecar or label is that object's problem only
            context.log.warning(f"{found.where}: {exc}")
            continue
        if result.outcome == "failed":
            context.log.warning(f"{found.where}: {result.detail}")
            continue
        hashes.append(result.content_hash)
    keys = sorted(set(partition_keys(engine, hashes).values()))
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"images:{k}", partition_key=k) for k in keys],
        dynamic_partitions_requests=[images.build_add_request(keys)] if keys else [],
        cursor=json.dumps(seen),
    )


@dg.sensor(job=model_job, minimum_interval_seconds=30, description="Makes every variant of each image once its image stages are done.")
def variants_sensor(context: dg.SensorEvaluationContext, catalog: CatalogResource) -> dg.SensorResult:
    after = int(context.cursor) if context.cursor else None
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("upscaled_image"), after_storage_id=after), limit=BATCH, ascending=True
    ).records
    names = [v["name"] for v in list_variants(catalog.engine())]
    requests = [
        dg.RunRequest(
            run_key=f"model:{record.partition_key}:{name}:{record.storage_id}",
            partition_key=dg.MultiPartitionKey({"image": record.partition_key, "variant": name}),
        )
        for record in records
        for name in names
    ]
    cursor = str(records[-1].storage_id) if records else context.cursor
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[variants.build_add_request(names)] if names else [],
        cursor=cursor,
    )


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Fails the runs whose `meshmill convert` process died (kill -9, the OOM killer), freeing their gpu pool slots.",
)
def orphaned_runs_sensor(context: dg.SensorEvaluationContext, catalog: CatalogResource) -> dg.SkipReason:
    released = release_orphaned_runs(context.instance, catalog.engine())
    for run_id in released:
        context.log.warning(f"run {run_id}: its process is gone; failed, its pool slots freed and its attempts closed")
    return dg.SkipReason(f"closed {len(released)} run(s) left open by dead processes" if released else "no run left open by a dead process")


#: the tags a remake's run carries: the review that asked for it, and who
REVIEW_TAG, REVIEWER_TAG = "meshmill/review", "meshmill/requested_by"


@dg.sensor(
    job=model_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Queues the 3D stages of each output a reviewer asked to make again (another seed or another variant).",
)
def remakes_sensor(context: dg.SensorEvaluationContext, catalog: CatalogResource) -> dg.SensorResult:
    """A remake without a variant asks for another seed: its output's variant with the next seed, defined here and
    noted on the remake; one that cannot be defined (a name too long) is logged and left."""
    engine = catalog.engine()
    after = int(context.cursor) if context.cursor else None
    remakes = remakes_after(engine, after, limit=BATCH)
    requests, names = [], set()
    for remake in remakes:
        variant = remake["variant"]
        if variant is None:
            try:
                variant = another_seed_variant(engine, remake["output_variant"])
            except (CatalogError, LabelError) as exc:
                context.log.warning(f"review {remake['id']}: no variant with another seed of {remake['output_variant']}: {exc}")
                continue
            settle_remake(engine, remake["id"], variant)
        names.add(variant)
        requests.append(
            dg.RunRequest(
                run_key=f"remake:{remake['id']}",
                partition_key=dg.MultiPartitionKey({"image": remake["image"], "variant": variant}),
                tags={REVIEW_TAG: str(remake["id"]), REVIEWER_TAG: remake["reviewer"]},
            )
        )
    names = sorted(names)
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[variants.build_add_request(names)] if names else [],
        cursor=str(remakes[-1]["id"]) if remakes else context.cursor,
    )
