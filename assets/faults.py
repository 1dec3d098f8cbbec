"""How the assets fail: transient faults are retried, bad input fails its partition at once with its
message, and a failing 3D stage closes its catalog attempt as failed before the error goes on."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import dagster as dg
from sqlalchemy import Engine

from catalog import BlobNotFound, CatalogError, OutputStatus, finish_attempt
from inference.generators import EmptySurface
from inference.images.decode import ImageError
from inference.mesh.cleanup import MeshError
from inference.params import ParameterError
from inference.runtime.weights import ModelUnavailable
from inference.views import ViewError

#: transient faults (database, S3, network, a model server) are retried; bad input and a missing model are not
RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL)
BAD_INPUT = (ImageError, ViewError, MeshError, ParameterError, CatalogError, BlobNotFound, ModelUnavailable, EmptySurface)

F = TypeVar("F", bound=Callable)


def fail_fast_on_bad_input(fn: F) -> F:
    """Bad input fails the partition at once with its message; anything else may be retried."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            return fn(*args, **kwargs)
        except BAD_INPUT as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc

    return wrapper  # type: ignore[return-value]


@contextmanager
def failure_recorded(engine: Engine, output_id: int, attempt: int, stage: str) -> Iterator[None]:
    """Close the attempt as failed, with the error, if the stage raises; then let the error go on."""
    try:
        yield
    except Exception as exc:
        finish_attempt(engine, output_id, attempt, status=OutputStatus.failed, error=f"{stage}: {exc}")
        raise
