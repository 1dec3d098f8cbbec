"""The embedded instance's event log keeps its SQLite connections open and still keeps every event."""

import multiprocessing
import shutil

import dagster as dg
import pytest

from orchestration import event_log
from orchestration.event_log import PooledSqliteEventLogStorage
from orchestration.instance import REPO_ROOT


@pytest.fixture
def instance(tmp_path, monkeypatch):
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as made:
        yield made


@dg.asset(partitions_def=dg.StaticPartitionsDefinition([f"p{i}" for i in range(12)]))
def part(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"key": context.partition_key})


def materialised(instance: dg.DagsterInstance) -> set[str]:
    records = instance.fetch_materializations(dg.AssetKey("part"), limit=100).records
    return {record.asset_materialization.partition for record in records}


def _materialise_in_child(home: str) -> None:
    import os

    os.environ["DAGSTER_HOME"] = home
    with dg.DagsterInstance.get() as child:
        assert dg.materialize([part], instance=child, partition_key="p11").success


def test_the_repos_instance_uses_it_and_every_run_and_event_is_kept(instance):
    assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
    for index in range(11):  # more runs than the files it keeps open
        assert dg.materialize([part], instance=instance, partition_key=f"p{index}").success
    assert materialised(instance) == {f"p{i}" for i in range(11)}
    assert len(instance.event_log_storage._engines) <= event_log.OPEN_RUN_FILES + 1
    for run in instance.get_runs():
        events = instance.all_logs(run.run_id)
        assert any(e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.RUN_SUCCESS for e in events)
    # a forked process writes through engines of its own; the parent reads what it wrote
    child = multiprocessing.get_context("fork").Process(target=_materialise_in_child, args=(str(instance.root_directory),))
    child.start()
    child.join(60)
    assert child.exitcode == 0 and "p11" in materialised(instance)
    # wiped, the files go and nothing is written to a removed one
    instance.wipe()
    assert materialised(instance) == set()
    assert dg.materialize([part], instance=instance, partition_key="p3").success
    assert materialised(instance) == {"p3"}
