"""Resources the assets use: the catalog (database + blob store) and the compute device with its loaded models."""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

import dagster as dg
from sqlalchemy import Engine

import catalog
from assets.variants import variant_params
from catalog.keys import split_output_partition_key
from inference.params import GenerationParams

if TYPE_CHECKING:
    from inference.generators import ShapeGenerator

#: the op tag that routes a step to a Celery queue: image stages to "cpu" workers, 3D stages to "gpu" workers
QUEUE_TAG = "dagster-celery/queue"
#: loaded generators, by backend and device, for the life of the process (a worker keeps its models warm)
_generators: dict[tuple[str, str], ShapeGenerator] = {}
#: source image rows by database and partition key; a recorded source row never changes
_sources: dict[tuple[str, str], dict[str, Any]] = {}
_MAX_SOURCES = 10_000


class CatalogResource(dg.ConfigurableResource):
    """The catalog and blob store; empty settings mean 'from the environment' (docs/reference/environment.md)."""

    database_url: str = ""

    def engine(self) -> Engine:
        return catalog.get_engine(self.database_url or None)

    def blobs(self) -> catalog.BlobStore:
        """The blob store, waiting out an S3 server that does not answer for ``MESHMILL_STORE_RETRY_SECONDS`` (a
        restart mid-batch is waited for, not three quick tries that fail the partitions in flight)."""
        return catalog.blob_store_from_env(retry_for=catalog.store_retry_seconds())

    def source(self, key: str) -> dict[str, Any]:
        """The source image of image partition ``key`` (``duck-98bdb802952779f7``), looked up once per process."""
        engine = self.engine()
        cached = (engine.url.render_as_string(), key)
        if cached not in _sources:
            if len(_sources) >= _MAX_SOURCES:
                _sources.clear()
            _sources[cached] = catalog.source_by_partition_key(engine, key)
        return _sources[cached]

    def describe_image(self, key: str) -> str:
        """An image partition as people know it: its file name, and the key."""
        image_key = split_output_partition_key(key)[0]  # an image partition's key is its own image key
        try:
            return f"{self.source(image_key)['filename']} ({key})"
        except catalog.CatalogError:
            return key

    def variant(self, name: str) -> tuple[int, GenerationParams]:
        """The variant's id and its generation parameters, as stored when it was defined."""
        engine = self.engine()
        row = catalog.variant_by_name(engine, name)
        return row["id"], variant_params(engine, row)


class ComputeResource(dg.ConfigurableResource):
    """Picks the device (CUDA when present) and keeps loaded generators for the life of the process,
    so a batch of partitions run in one process loads each model once. torch is imported on first use: the
    processes that only plan and watch runs (convert's parent, Dagster's code server and daemon) never load it."""

    device: str = "auto"

    def torch_device(self) -> str:
        from inference.runtime.devices import torch_device

        return str(torch_device(None if self.device == "auto" else self.device))

    def generator(self, backend: str, log: logging.Logger | None = None) -> ShapeGenerator:
        """The backend's generator on this worker's device, built (its model loaded) on first use only."""
        from inference.generators import get_generator

        key = (backend, self.torch_device())
        if key not in _generators:
            start = time.perf_counter()
            _generators[key] = get_generator(backend, key[1])
            if log is not None:
                seconds = time.perf_counter() - start
                log.info(f"loaded {backend} on {key[1]} in {seconds:.1f} s; process {os.getpid()} keeps it for its next partitions")
        return _generators[key]

    @staticmethod
    def models_loaded() -> int:
        """How many generators this process has built: stays at one per backend however many partitions it makes."""
        return len(_generators)
