"""Meshmill's steps on Celery workers, across machines: Dagster's Celery executor with a Redis broker.

Celery, because its workers live long and keep their models loaded (a pod per step would load the
weights again for every step). The image stages go to the ``cpu`` queue and the 3D stages to ``gpu``
(the ``dagster-celery/queue`` op tags); ``meshmill worker --queue gpu --gpu 0`` starts a worker.

A task is acknowledged only when it is done, and a worker takes one at a time, so the steps of a
worker that dies are delivered again: at once when its pool process dies (the OOM killer), after the
broker's visibility timeout when the whole worker is gone. A step delivered again skips what its run
already materialised (``assets.batch``).
"""

from __future__ import annotations

import os
from typing import Any

BROKER_ENV = "MESHMILL_CELERY_BROKER"
BACKEND_ENV = "MESHMILL_CELERY_BACKEND"
VISIBILITY_ENV = "MESHMILL_CELERY_VISIBILITY_TIMEOUT"
QUEUES = ("cpu", "gpu")


def broker_url() -> str | None:
    """``$MESHMILL_CELERY_BROKER``, e.g. ``redis://redis-host:6379/0``; unset means no Celery."""
    return os.environ.get(BROKER_ENV) or None


def celery_settings() -> dict[str, Any]:
    """The Celery settings the executor and every worker share (they must agree)."""
    return {
        "task_acks_late": True,  # acknowledged when done: a dead worker's task is not lost
        "task_reject_on_worker_lost": True,  # ... and is delivered again at once when its process dies
        "worker_prefetch_multiplier": 1,  # one task at a time: the rest wait for idle workers
        # seconds before the broker hands an unacknowledged task to another worker when its worker is gone
        # entirely; longer than any one step may run, or a slow step would be started twice
        "broker_transport_options": {"visibility_timeout": int(os.environ.get(VISIBILITY_ENV) or 6 * 3600)},
        "result_expires": 7 * 24 * 3600,
        "worker_send_task_events": True,
    }


def executor_config() -> dict[str, Any]:
    broker = broker_url()
    if broker is None:
        raise RuntimeError(f"the Celery executor needs a broker: set {BROKER_ENV}, e.g. redis://127.0.0.1:6379/0")
    return {"broker": broker, "backend": os.environ.get(BACKEND_ENV) or broker, "config_source": celery_settings()}
