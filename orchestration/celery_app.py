"""The Celery app ``meshmill worker`` runs: dagster-celery's step task, on Meshmill's broker and settings."""

from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from orchestration.celery_config import celery_settings, executor_config

_config = executor_config()
app = make_app({"broker": _config["broker"], "backend": _config["backend"]})
app.conf.update(celery_settings())
execute_plan = create_task(app)
