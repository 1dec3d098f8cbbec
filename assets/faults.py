"""How the assets fail: what counts as bad input (a partition's own problem, never retried), the retry
policy for a step that fails outside its partitions, and closing a catalog attempt as failed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from sqlalchemy import Engine

from catalog import BlobNotFound, CatalogError, OutputStatus, finish_attempt
from catalog.blobs import BlobStoreRefused
from inference.generators import EmptySurface
from inference.images.decode import ImageError
from inference.licences import LicenceRefused
from inference.mesh.cleanup import MeshError
from inference.params import ParameterError
from inference.runtime.weights import ModelUnavailable
from inference.views import ViewError

#: bad input, a missing model, a licence the studio's setting forbids and credentials the blob store refuses fail a
#: partition at once; anything else is tried again (assets.batch)
BAD_INPUT = (
    ImageError, ViewError, MeshError, ParameterError, CatalogError, BlobNotFound, ModelUnavailable, EmptySurface, LicenceRefused,
    BlobStoreRefused,
)  # fmt: skip
#: faults of the machine that trying again at once does not mend: failed at once, named (a MemoryError has no message)
NOT_RETRIED = {MemoryError: "out of memory (the machine had too little for this image at these settings)"}
#: a step that fails outside any one partition (a resource that cannot start, the database away) is run again
RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL)


@contextmanager
def failure_recorded(engine: Engine, output_id: int, attempt: int, stage: str) -> Iterator[None]:
    """Close the attempt as failed, with the error, if the stage raises; then let the error go on."""
    try:
        yield
    except Exception as exc:
        finish_attempt(engine, output_id, attempt, status=OutputStatus.failed, error=f"{stage}: {exc}")
        raise
