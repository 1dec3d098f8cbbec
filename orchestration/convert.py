"""Batch conversion through Dagster: few runs for a batch, in warm worker processes, one per GPU.

The images of a batch are cut into chunks of consecutive image partitions (a Dagster run targets a
range of partitions). Each chunk is one run of the image stages over its images, then one run of the
3D stages over their image × variant partitions (more than one only where a failed image or a variant
left out breaks the range). Dagster's per-run cost is paid per chunk, not per image, yet every
partition is materialised on its own, with its metadata, and a bad image fails only itself
(``assets.batch``).

Chunks go to worker processes through a queue. Each worker is pinned to one GPU
(``CUDA_VISIBLE_DEVICES``) and keeps its models loaded for every chunk it takes. With the Celery
executor the workers only coordinate runs and the steps run on ``meshmill worker`` processes,
possibly on other machines. A worker that dies has its chunk handed to another, and the runs it left
open are closed, their pool slots freed, so no dead process holds a slot or a partition.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg

import catalog
from assets.batch import PLANNED_TAG, failed_partitions
from assets.image_assets import image_stage_config
from assets.partitions import images, variants
from assets.resources import CatalogResource
from assets.stored_views import stored_settings
from assets.variants import output_params
from catalog import OutputStatus, finish_attempt, start_attempt
from catalog.blobs import first_line
from catalog.keys import output_partition_key, split_output_partition_key
from inference.licences import LicenceRefused, check_licences
from inference.params import GenerationParams
from orchestration import definitions
from orchestration.instance import (
    COORDINATOR_TAG,
    add_partitions,
    coordinator,
    dagster_instance,
    fail_own_runs,
    give_up_reserve,
    keep_reserve,
    on_conflict_again,
    release_orphaned_runs,
)
from orchestration.workers import DEFAULT_BATCH_SIZE, run_in_workers

EXECUTORS = ("in_process", "celery")
GPU_POOL = "gpu"
_QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}  # convert prints its own summary; the UI keeps every event


@dataclass
class PartitionOutcome:
    image: str
    variant: str | None  # None: the image stages
    success: bool
    run_id: str
    error: str = ""
    skipped: bool = False  # made before, with the same settings: not made again (``--force`` makes it again)


@dataclass
class ConvertReport:
    outcomes: list[PartitionOutcome] = field(default_factory=list)

    @property
    def failures(self) -> list[PartitionOutcome]:
        return [o for o in self.outcomes if not o.success]


class BatchStopped(Exception):
    """The batch stopped on an error outside any one partition (Dagster's storage full, the catalog away): ``report``
    holds what was done before it, the error is the cause. The runs this process was coordinating are failed."""

    def __init__(self, report: ConvertReport):
        super().__init__(f"the batch stopped after {len(report.outcomes)} partition outcome(s)")
        self.report = report


@dataclass(frozen=True)
class BatchSettings:
    """What every worker needs to convert a chunk (plain values: it travels to worker processes)."""

    variants: tuple[str, ...]
    image_params: GenerationParams
    executor: str = "in_process"
    made: frozenset[str] = frozenset()  # 3D partitions ("image|variant") already made with these settings: skipped
    images_made: frozenset[str] = frozenset()  # images whose views are stored, made with these image settings: not cut out again
    planned_at: str = ""  # when ``made`` was looked for (ISO 8601): what another run makes after it is not made again
    database_url: str = ""  # the catalog convert was handed ("": from the environment), for its own reads and its runs'

    @property
    def catalog(self) -> CatalogResource:
        return CatalogResource(database_url=self.database_url)

    def run_config(self, config: dict) -> dict:
        """``config`` with the catalog resource set to this batch's, so its runs write where convert reads. A URL
        handed in is stored with each run's config (Dagster shows it): give one without a password (libpq reads
        ``PGPASSWORD`` or ``~/.pgpass``); the catalog of the environment is not written there."""
        resources = {"resources": {"catalog": {"config": {"database_url": self.database_url}}}} if self.database_url else {}
        return {**config, **_QUIET, **resources}


def contiguous_ranges(order: Iterable[str], wanted: Iterable[str], max_size: int | None = None) -> list[list[str]]:
    """The ``wanted`` keys as runs of keys that are consecutive in ``order`` (what one Dagster run can
    target), each at most ``max_size`` long."""
    wanted = set(wanted)
    ranges: list[list[str]] = []
    current: list[str] = []
    for key in order:
        if key in wanted and (max_size is None or len(current) < max_size):
            current.append(key)
            continue
        if current:
            ranges.append(current)
        current = [key] if key in wanted else []
    if current:
        ranges.append(current)
    return ranges


def run_range(
    instance: dg.DagsterInstance, stages: str, keys: list[str], run_config: dict, executor: str, planned_at: str = ""
) -> tuple[str, dict[str, str]]:
    """One run of ``stages`` (``image_stages`` or ``model_stages``) over the partitions ``keys[0]`` to
    ``keys[-1]``; returns the run id and the error of each partition that was not made."""
    if len(keys) == 1:
        tags = {"dagster/partition": keys[0]}
    else:
        tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    tags[COORDINATOR_TAG] = coordinator()
    if planned_at:
        tags[PLANNED_TAG] = planned_at
    job = definitions.image_stages_job if stages == "image_stages" else definitions.model_stages_job
    if executor == "celery":
        result = dg.execute_job(dg.reconstructable(job), instance=instance, run_config=run_config, tags=tags, raise_on_error=False)
    else:
        result = job().execute_in_process(instance=instance, run_config=run_config, tags=tags, raise_on_error=False)
    last = "upscaled_image" if stages == "image_stages" else "textured_glb"
    made, errors, step_error = set(), {}, ""
    for record in instance.get_records_for_run(
        result.run_id, of_type={dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.STEP_FAILURE}, limit=100_000
    ).records:
        event = record.event_log_entry.dagster_event
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            if event.asset_key.to_user_string() == last:
                made.add(event.partition)
        else:
            data = event.step_failure_data
            errors.update(failed_partitions(data.user_failure_data.metadata) if data.user_failure_data else {})
            step_error = step_error or (data.error.message.strip().splitlines()[0] if data.error else "the step failed")
    return result.run_id, {k: errors.get(k) or step_error or "not made" for k in keys if k not in made}


def convert_chunk(instance: dg.DagsterInstance, chunk: list[str], settings: BatchSettings) -> list[PartitionOutcome]:
    """The image stages of a chunk of consecutive images, then the 3D stages of those that made it through."""
    outcomes = [PartitionOutcome(key, None, True, "", skipped=True) for key in chunk if key in settings.images_made]
    failed: dict[str, str] = {}
    for keys in contiguous_ranges(chunk, [key for key in chunk if key not in settings.images_made]):
        run_id, failed_here = run_range(
            instance, "image_stages", keys, settings.run_config(image_stage_config(settings.image_params)), settings.executor
        )
        outcomes += [PartitionOutcome(key, None, key not in failed_here, run_id, failed_here.get(key, "")) for key in keys]
        failed.update(failed_here)
        for key, error in failed_here.items():
            for variant in settings.variants:
                _record_failed_output(settings.catalog, key, variant, settings.image_params, run_id, f"image stages failed: {error}")
                outcomes.append(PartitionOutcome(key, variant, False, run_id, "skipped: the image stages failed"))
    # the 3D partitions in Dagster's order (image after image, each with its variants in the order they were added)
    all_variants = instance.get_dynamic_partitions(variants.name)
    order = [output_partition_key(key, variant) for key in chunk for variant in all_variants]
    wanted = [
        output_partition_key(key, variant)
        for key in chunk
        if key not in failed
        for variant in all_variants
        if variant in settings.variants and output_partition_key(key, variant) not in settings.made
    ]
    for keys in contiguous_ranges(order, wanted):
        run_id, failed_models = run_range(instance, "model_stages", keys, settings.run_config({}), settings.executor, settings.planned_at)
        for key in keys:
            image, variant = split_output_partition_key(key)
            outcomes.append(PartitionOutcome(image, variant, key not in failed_models, run_id, failed_models.get(key, "")))
    return outcomes


def _variant_params(
    store: CatalogResource, variant: str, image_params: GenerationParams, height_m: float | None = None
) -> tuple[int, GenerationParams]:
    """The variant's id and the parameters an output of it is made with by this convert (``output_params``)."""
    variant_id, params = store.variant(variant)
    return variant_id, output_params(params, image_params.image_settings(), height_m)


def already_made(
    store: CatalogResource, image_keys: Iterable[str], variant_names: Iterable[str], image_params: GenerationParams
) -> set[str]:
    """The 3D partitions ("image|variant") whose output the catalog has as made, with the parameters this convert
    would make it with, and whose GLB is still stored at the size it was written: a re-run of the same command
    skips them (a changed variant, image setting or object height does not, nor an output deleted or cut short in
    the store)."""
    made = catalog.made_outputs(store.engine(), image_keys, variant_names)

    def wanted_params(variant: str, height: float | None) -> dict:
        return json.loads(json.dumps(_variant_params(store, variant, image_params, height)[1].model_dump()))

    wanted = functools.cache(wanted_params)
    blobs = store.blobs()
    return {
        output_partition_key(key, variant)
        for (key, variant), output in made.items()
        if output.parameters == wanted(variant, output.height_m) and intact(blobs, output)
    }


def images_made_before(store: CatalogResource, image_keys: Iterable[str], image_params: GenerationParams) -> set[str]:
    """The images whose framed views (what the 3D stages read) are stored, every one of them, made with the image
    settings this convert would use: a new variant of them needs no new cut-out or upscale."""
    blobs, wanted = store.blobs(), image_params.image_settings()
    return {key for key in image_keys if stored_settings(blobs, "framed", store.source(key)["content_hash"]) == wanted}


def intact(blobs: catalog.BlobStore, output: catalog.MadeOutput) -> bool:
    """The output's GLB is in the store with the size recorded when it was written."""
    if not output.glb_key:
        return False
    try:
        return blobs.stat(output.glb_key).size == output.byte_size
    except catalog.BlobNotFound:
        return False


def check_variant_licences(store: CatalogResource, variants: Iterable[str], image_params: GenerationParams) -> None:
    """Refuse, before anything is ingested or run, variants whose models the studio's licence setting forbids."""
    for variant in variants:
        try:
            check_licences(_variant_params(store, variant, image_params)[1])
        except LicenceRefused as exc:
            raise LicenceRefused(f"variant {variant!r}: {exc}") from None


def _record_failed_output(store: CatalogResource, key: str, variant: str, image_params: GenerationParams, run_id: str, error: str) -> None:
    """The catalog shows the output as failed, with why, even though its own stages never ran."""
    source = store.source(key)
    engine = store.engine()
    variant_id, params = _variant_params(store, variant, image_params, catalog.source_height(engine, source["id"]))
    try:
        output_id, attempt = start_attempt(engine, source["id"], variant_id, parameters=params.model_dump(), dagster_run_id=run_id)
    except catalog.OutputClaimed:  # another convert is making it from its own image stages: its outcome stands
        return
    finish_attempt(engine, output_id, attempt, status=OutputStatus.failed, error=error)


def size_gpu_pool(instance: dg.DagsterInstance, workers: int) -> None:
    """Let ``workers`` 3D steps run at once: the ``gpu`` pool's limit is raised to the number of GPU workers
    (never lowered, so a limit a studio set for a bigger cluster stays). Two converts starting together
    both find no limit row and both insert one; the second then finds it and raises it if need be."""

    def raise_limit() -> None:
        info = instance.event_log_storage.get_concurrency_info(GPU_POOL)
        if info.slot_count < workers:
            instance.event_log_storage.set_concurrency_slots(GPU_POOL, workers)

    on_conflict_again(raise_limit)


def plan_chunks(instance: dg.DagsterInstance, image_keys: Iterable[str], batch_size: int) -> list[list[str]]:
    """The chunks of a batch: consecutive image partitions, at most ``batch_size`` each."""
    return contiguous_ranges(instance.get_dynamic_partitions(images.name), image_keys, max(1, batch_size))


def materialise(
    instance: dg.DagsterInstance,
    store: CatalogResource,
    image_keys: Iterable[str],
    variant_names: Iterable[str],
    *,
    image_params: GenerationParams | None = None,
    workers: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    executor: str = "in_process",
    force: bool = False,
    on_progress: Callable[[PartitionOutcome], None] | None = None,
    on_made: Callable[[str, str | None], None] | None = None,
) -> ConvertReport:
    """Run, on the catalog ``store`` (what convert reads, where its runs write), the image stages of each image
    (cut out and upscaled with ``image_params``' image settings, default the GenerationParams defaults), then the
    3D stages of each image × variant: those not made before with the same settings, or every one with ``force``.
    ``on_progress``: each partition's outcome, as its run ends; ``on_made``: each partition made, as Dagster stores
    it (``MadeWatch``), before its run ends."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor {executor!r} is unknown: choose one of {', '.join(EXECUTORS)}")
    image_keys, variant_names = list(image_keys), list(variant_names)
    image_params = image_params or GenerationParams()
    engine = store.engine()
    release_orphaned_runs(instance, engine)
    keep_reserve(instance)
    size_gpu_pool(instance, workers)
    add_partitions(instance, images.name, image_keys)
    add_partitions(instance, variants.name, variant_names)
    planned_at = datetime.now(UTC).isoformat()
    made = frozenset() if force else frozenset(already_made(store, image_keys, variant_names, image_params))
    # an image is left out only when every variant asked for was made (with none asked for: its image stages are)
    todo = [
        key for key in image_keys if not variant_names or any(output_partition_key(key, variant) not in made for variant in variant_names)
    ]
    images_made = frozenset() if force or not variant_names else frozenset(images_made_before(store, todo, image_params))
    settings = BatchSettings(
        tuple(variant_names), image_params, executor, made, images_made, "" if force else planned_at, store.database_url
    )
    report = ConvertReport()

    def record(outcomes: list[PartitionOutcome]) -> None:
        for outcome in outcomes:
            report.outcomes.append(outcome)
            if on_progress:
                on_progress(outcome)

    left_out = set(image_keys) - set(todo)
    for key in image_keys:  # what is not made again: the image stages of an image left out, the variants made
        skipped = [None] if key in left_out else []
        skipped += [variant for variant in variant_names if output_partition_key(key, variant) in made]
        record([PartitionOutcome(key, variant, True, "", skipped=True) for variant in skipped])
    image_keys = todo
    chunks = plan_chunks(instance, image_keys, min(batch_size, -(-len(image_keys) // max(1, workers))) if image_keys else batch_size)

    wanted = {*image_keys, *(output_partition_key(key, variant) for key in image_keys for variant in variant_names)} - made - images_made
    try:
        with MadeWatch(instance, wanted, on_made) if on_made else contextlib.nullcontext():
            if workers <= 1 and executor == "in_process":
                for chunk in chunks:  # here: the models this process loads stay loaded for the whole batch
                    record(convert_chunk(instance, chunk, settings))
            else:
                tasks = [(chunk, settings) for chunk in chunks]
                run_in_workers(tasks, convert_in_worker, workers, record, on_lost=lambda pid: release_orphaned_runs(instance, engine))
    except Exception as exc:
        give_up_reserve(instance)  # Dagster's storage may be what filled up: the runs still open can be failed now
        fail_own_runs(instance, engine, f"convert stopped: {type(exc).__name__}: {first_line(exc)}")
        seen = {(o.image, o.variant) for o in report.outcomes}
        report.outcomes += [
            PartitionOutcome(key, variant, False, "", "not made: the batch stopped")
            for key in image_keys
            for variant in (None, *variant_names)
            if (key, variant) not in seen
        ]
        raise BatchStopped(report) from exc
    return report


class MadeWatch:
    """Tells ``on_made(image, variant)`` of each partition of ``wanted`` made from now on (``variant`` None: the image
    stages), as Dagster stores its materialisation, read from the event log once a second on a thread of its own:
    a run reports its partitions only when it ends, and a batch of a few images is one run per worker, so a
    progress bar fed by runs sat at 0 % and jumped to 100 %. Read with a connection of its own to the instance."""

    KEYS = {dg.AssetKey("upscaled_image"): False, dg.AssetKey("textured_glb"): True}

    def __init__(self, instance: dg.DagsterInstance, wanted: set[str], on_made: Callable[[str, str | None], None], every: float = 1.0):
        self.instance = dg.DagsterInstance.from_ref(instance.get_ref())
        self.wanted, self.on_made, self.every = wanted, on_made, every
        self.after = {key: self._latest(key) for key in self.KEYS}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="meshmill-progress", daemon=True)

    def _latest(self, key: dg.AssetKey) -> int | None:
        found = self.instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1, ascending=False).records
        return found[0].storage_id if found else None

    def poll(self) -> None:
        for key, per_variant in self.KEYS.items():
            records = self.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, after_storage_id=self.after[key]), limit=1000, ascending=True
            ).records
            for record in records:
                self.after[key] = record.storage_id
                if record.partition_key in self.wanted:
                    image, _, variant = record.partition_key.partition("|")
                    self.on_made(image, variant if per_variant else None)

    def _watch(self) -> None:
        while not self.stopped.wait(self.every):
            with contextlib.suppress(Exception):  # progress is a courtesy: a storage hiccup must not end the batch
                self.poll()

    def __enter__(self) -> MadeWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(30)
        with contextlib.suppress(Exception):
            self.poll()


def convert_in_worker(task: tuple[list[str], BatchSettings]) -> list[PartitionOutcome]:
    """A worker process's part: one chunk, on the worker's own connection to the instance. A failure
    outside any one partition fails the chunk's partitions, named, rather than the worker."""
    chunk, settings = task
    instance = None
    try:
        instance = dagster_instance()
        return convert_chunk(instance, chunk, settings)
    except Exception as exc:
        error = f"worker failed: {type(exc).__name__}: {first_line(exc)}"
        if instance is not None:  # no run of this worker is left STARTED
            give_up_reserve(instance)
            fail_own_runs(instance, settings.catalog.engine(), error)
        return [PartitionOutcome(key, variant, False, "", error) for key in chunk for variant in (None, *settings.variants)]
