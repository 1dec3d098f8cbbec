"""``meshmill convert``, the main job (ingest, then every image × variant through the Dagster assets), and
``meshmill ui``, the Dagster webserver and daemon over the same instance."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

import catalog
from assets.variants import variant_params
from catalog.config import meshmill_home
from inference.backends import backend_spec
from inference.params import DEFAULT_PRESET, IMAGE_STAGE_FIELDS
from orchestration.cli import knobs
from orchestration.cli.common import (
    Collections,
    ObjectHeight,
    Origin,
    Tags,
    console,
    counted,
    err_console,
    fail,
    label_options,
    open_blobs,
    open_engine,
    resolve_params,
    say,
    shown,
    unreachable,
)
from orchestration.cli.ingest import VIEWS_HELP, objects, print_result
from orchestration.cli.variants import DEFAULT_VARIANT, define, variant_for
from orchestration.ingest import ingest_sets
from orchestration.workers import (
    CORES_PER_WORKER,
    DEFAULT_BATCH_SIZE,
    LIGHT_ON_GPU,
    MAX_WORKERS_PER_GPU,
    MIN_IMAGES_PER_WORKER,
    default_workers,
    run_as_group,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from orchestration.convert import ConvertReport, PartitionOutcome


@knobs.generation_options("preset", knobs.SHAPE, "formats", knobs.IMAGE)
def convert(
    paths: list[Path] = typer.Argument(None, help="Image files or folders (view sets in them are found: see --views)."),
    views: list[str] = typer.Option([], "--views", help=VIEWS_HELP),
    collection: Collections = None,
    tag: Tags = None,
    variant: list[str] = typer.Option(
        [],
        "--variant",
        "-v",
        help="Variants to make (default: every defined one, or 'desktop'). The 3D options below (--preset, --faces, …) "
        "make or reuse a variant of those settings, made besides any --variant.",
    ),
    origin: Origin = None,
    object_height: ObjectHeight = None,
    workers: int | None = typer.Option(
        None,
        min=1,
        help="Worker processes, each pinned to one GPU and keeping its models loaded (default on a GPU node: one per "
        f"{CORES_PER_WORKER} cores, at most {MAX_WORKERS_PER_GPU} a GPU, for the built-in generator and model servers; one per GPU "
        f"for a learned model loaded here; without a GPU, one per core; one per {MIN_IMAGES_PER_WORKER} images at most). "
        "With --executor celery: runs coordinated at once.",
    ),
    batch_size: int = typer.Option(
        DEFAULT_BATCH_SIZE, min=1, help="Images per Dagster run (each image and image × variant is still its own partition)."
    ),
    executor: str = typer.Option(
        "in_process",
        help="in_process (the workers run the steps) or celery (steps run on `meshmill worker` processes; needs MESHMILL_CELERY_BROKER).",
    ),
    force: bool = typer.Option(
        False, "--force", help="Make every output again, also those already made with the same settings (skipped by default)."
    ),
    *,
    generation: dict,
) -> None:
    """The main job: ingest images and turn each into textured GLBs through Dagster (runs show in the UI)."""
    # Dagster: seconds to import, which no other command should pay
    from assets.resources import CatalogResource
    from orchestration.celery_config import BROKER_ENV, broker_url
    from orchestration.convert import EXECUTORS, BatchStopped, check_variant_licences, materialise
    from orchestration.instance import dagster_instance

    if executor not in EXECUTORS:
        fail(f"executor {executor!r} is unknown: choose one of {', '.join(EXECUTORS)}")
    if executor == "celery" and not broker_url():
        fail(f"--executor celery needs the broker's address in {BROKER_ENV}, e.g. redis://127.0.0.1:6379/0")
    collections, tags, origin = label_options(collection, tag, origin)
    found = objects(paths, views)
    image_params = resolve_params(generation)
    engine, blobs = open_engine(), open_blobs()
    store = CatalogResource()  # the catalog of the environment, as the code location's runs open it
    described = {k: v for k, v in generation.items() if k not in IMAGE_STAGE_FIELDS}
    if described:  # the 3D options: the variant of those settings, found or made now
        name, made = variant_for(described)
        say(f"variant {name}: {'defined now' if made else 'already defined'} with these settings")
    defined = {v["name"] for v in catalog.list_variants(engine)}
    if described:
        wanted = list(dict.fromkeys([*(v.lower() for v in variant), name]))
    else:
        wanted = [v.lower() for v in variant] or sorted(defined) or [DEFAULT_VARIANT]
    if wanted == [DEFAULT_VARIANT] and DEFAULT_VARIANT not in defined:
        define(DEFAULT_VARIANT, {"preset": DEFAULT_PRESET})
        defined.add(DEFAULT_VARIANT)
    missing = [v for v in wanted if v not in defined]
    if missing:
        fail(catalog.no_such_variants(missing, defined))
    try:
        check_variant_licences(store, wanted, image_params)
    except ValueError as exc:  # LicenceRefused, or a studio setting that names no known territory
        fail(str(exc))
    bad, said = [], {}
    for result in ingest_sets(found, engine, blobs, collections=collections, tags=tags, origin=origin, height_m=object_height):
        if result.outcome == "failed":
            bad.append((str(result.path), result.detail))
            print_result(result)
        else:
            views_given = f" ({len(result.views)} views)" if len(result.views) > 1 else ""
            said[result.content_hash] = shown(result.name) + views_given
    key_of = catalog.partition_keys(engine, said)  # each object's partition: its catalogued name and its hash
    names = {key_of[h]: name for h, name in said.items()}
    keys = sorted(names)
    workers = workers or default_workers(len(keys), light_on_gpu(engine, wanted))
    instance = dagster_instance()
    total = len(keys) * (1 + len(wanted))
    try:
        with ConvertProgress(console, total, names) as progress:
            report = materialise(
                instance, store, keys, wanted, image_params=image_params, workers=workers, batch_size=batch_size, executor=executor,
                force=force, on_progress=progress.outcome, on_made=progress.made,
            )  # fmt: skip
    except BatchStopped as stopped:  # e.g. Dagster's storage full: what was done, then one line naming the fault
        said = unreachable(stopped.__cause__)
        if said is None:  # a bug: its traceback
            raise stopped.__cause__ from None
        summarise(stopped.report, names, keys, wanted, bad, workers, executor, instance.root_directory)
        fail(f"{said}; the batch stopped there", 1)
    summarise(report, names, keys, wanted, bad, workers, executor, instance.root_directory)
    if report.failures or bad:
        for o in report.failures:
            err_console.print(f"[red]failed[/red] {names.get(o.image, o.image)} {o.variant or 'images'}: {shown(o.error)}", highlight=False)
        raise typer.Exit(1)


def summarise(
    report: ConvertReport, names: dict[str, str], keys: list[str], wanted: list[str], bad: list, workers: int, executor: str, home: str
) -> None:
    """The table of every partition's outcome and the batch's one-line summary."""
    title = f"{counted(len(keys), 'object')} × {counted(len(wanted), 'variant')}"
    table = Table("object", "partition", "stage", "result", "run", title=title)
    for o in report.outcomes:
        result = "[green]ok[/green]" if o.success and not o.skipped else "made before" if o.skipped else f"[red]{shown(o.error)}[/red]"
        table.add_row(names.get(o.image, "-"), o.image, o.variant or "images", result, o.run_id[:8])
    console.print(table)
    made = sum(o.success and not o.skipped for o in report.outcomes if o.variant)
    skipped = sum(o.skipped for o in report.outcomes if o.variant)
    runs = len({o.run_id for o in report.outcomes if o.run_id})
    before = f" ({skipped} made before with the same settings: skipped; --force makes them again)" if skipped else ""
    say(
        f"{made} of {len(keys) * len(wanted)} GLBs made{before}; {len(bad)} files or sets refused at ingest; "
        f"{counted(runs, 'Dagster run')} on {counted(workers, 'worker')} ({executor}); "
        f"Dagster instance: {home} (open it with `meshmill ui`)"
    )


class ConvertProgress:
    """What convert shows while it works, one step per partition (an image's stages, an image × variant): on a terminal
    a bar with the partitions done of all, the last one done and the time left from those done; off a terminal
    (a log, a pipe) one line per partition as it is done. A partition counts once, when Dagster stores it or, for
    one skipped or failed, when its run ends."""

    def __init__(self, console: Console, total: int, names: dict[str, str]):
        self.console, self.total, self.names = console, total, names
        self.done: set[tuple[str, str | None]] = set()
        self.lock = threading.Lock()
        self.bar: Progress | None = None
        if console.is_terminal:
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
            self.bar = Progress(*columns, console=console, transient=True)
            self.task = self.bar.add_task("converting", total=total)

    def __enter__(self) -> ConvertProgress:
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar:
            self.bar.stop()

    def made(self, image: str, variant: str | None) -> None:
        self._count(image, variant, "made")

    def outcome(self, outcome: PartitionOutcome) -> None:
        said = "made" if outcome.success and not outcome.skipped else "made before" if outcome.skipped else "failed"
        self._count(outcome.image, outcome.variant, said)

    def _count(self, image: str, variant: str | None, said: str) -> None:
        with self.lock:
            if (image, variant) in self.done:
                return
            self.done.add((image, variant))
            what = f"{self.names.get(image, image)} {variant or 'images'}"
            if self.bar:
                self.bar.update(self.task, completed=len(self.done), description=what)
            else:
                self.console.print(f"{said} {what} ({len(self.done)}/{self.total})", highlight=False, soft_wrap=True)


def ui(
    port: int = typer.Option(3000, help="Port of the Dagster UI."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for every one)."),
) -> None:
    """Start the Dagster webserver and daemon for this project on 127.0.0.1."""
    from orchestration.instance import REPO_ROOT, dagster_instance

    instance = dagster_instance()  # makes DAGSTER_HOME and its dagster.yaml
    beside = Path(sys.executable).with_name("dagster")
    dagster = str(beside) if beside.exists() else shutil.which("dagster") or "dagster"
    command = [dagster, "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-h", host, "-p", str(port)]
    # run from the instance's folder: from the repository, dagster dev warned that the dagster.yaml there (the template
    # DAGSTER_HOME's is made from) is not used; the data folder is passed whole, since its default is relative. `dg dev`,
    # which dagster dev's supersession warning names, needs a dg project layout: the warning is not shown
    env = {
        **os.environ,
        "MESHMILL_HOME": str(meshmill_home()),
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p),
        "PYTHONWARNINGS": ",".join(w for w in ("ignore:Function `dev_command` is superseded", os.environ.get("PYTHONWARNINGS")) if w),
    }
    raise typer.Exit(run_as_group(command, Path(instance.root_directory), env=env))  # a SIGTERM stops dagster dev and all it started


def worker(
    queue: list[str] = typer.Option(
        ["gpu"], "--queue", "-q", help="Queue(s) to take steps from: gpu (the 3D stages), cpu (the image stages)."
    ),
    gpu: int | None = typer.Option(None, help="Pin the worker to this GPU (CUDA_VISIBLE_DEVICES)."),
    name: str | None = typer.Option(None, help="Worker name (default: meshmill-<queues>[-gpuN]@<host>)."),
    concurrency: int = typer.Option(1, min=1, help="Steps at a time; keep 1 for a GPU worker."),
) -> None:
    """A Celery worker for steps of runs launched with the Celery executor (MESHMILL_CELERY_BROKER); keeps its models loaded."""
    from orchestration.celery_config import BROKER_ENV, QUEUES, broker_url

    unknown = sorted(set(queue) - set(QUEUES))
    if unknown:
        fail(f"queue(s) {', '.join(unknown)} unknown: use {' or '.join(QUEUES)}")
    if not broker_url():
        fail(f"a worker needs the broker's address in {BROKER_ENV}, e.g. redis://127.0.0.1:6379/0")
    env = dict(os.environ)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    name = name or f"meshmill-{'-'.join(queue)}{'' if gpu is None else f'-gpu{gpu}'}@%h"
    celery = Path(sys.executable).with_name("celery")
    command = [str(celery), "-A", "orchestration.celery_app", "worker", "-Q", ",".join(queue), "-n", name, "--concurrency",
               str(concurrency), "--prefetch-multiplier", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle"]  # fmt: skip
    os.execve(command[0], command, env)  # the worker becomes this process: signals reach Celery itself


def light_on_gpu(engine: Engine, variants: list[str]) -> bool:
    """Whether every variant's backend keeps little on the GPU (``LIGHT_ON_GPU``): then several workers share a GPU."""
    backends = {variant_params(engine, catalog.variant_by_name(engine, v)).backend for v in variants}
    return all(backend_spec(b).kind in LIGHT_ON_GPU for b in backends)
