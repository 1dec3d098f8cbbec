"""One maker per output: a run's claim, its heartbeat and lease, and an output made meanwhile by another run."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from catalog import MadeMeanwhile, OutputClaimed, attempts_of, define_variant, finish_attempt, heartbeat, record_source, start_attempt


@pytest.fixture
def output(engine):
    source = record_source(
        engine, content_hash="c" * 64, filename="chest.png", width=8, height=8, mode="RGBA", byte_size=1, blob_key="sources/c.png"
    ).id
    return source, define_variant(engine, "desktop", {"backend": "builtin"})


def test_a_second_run_waits_for_a_live_claim_and_takes_one_left_behind(engine, output, monkeypatch):
    monkeypatch.setenv("MESHMILL_CLAIM_LEASE_S", "0.6")
    output_id, first = start_attempt(engine, *output, parameters={"faces": 1}, dagster_run_id="run-a")
    with pytest.raises(OutputClaimed) as busy:
        start_attempt(engine, *output, parameters={"faces": 1}, dagster_run_id="run-b")
    assert busy.value.run_id == "run-a" and busy.value.output_id == output_id
    # the same run asking again (a retry of its step) gets it
    again, second = start_attempt(engine, *output, parameters={"faces": 1}, dagster_run_id="run-a")
    assert (again, second) == (output_id, first + 1)
    with heartbeat(engine, output_id, "run-a"):  # beating: held past the lease
        time.sleep(1.5)
        with pytest.raises(OutputClaimed):
            start_attempt(engine, *output, parameters={"faces": 1}, dagster_run_id="run-b")
    time.sleep(0.8)  # no beat for longer than the lease: its process is taken as stopped
    taken, third = start_attempt(engine, *output, parameters={"faces": 1}, dagster_run_id="run-b")
    assert (taken, third) == (output_id, 3)
    history = [(a["dagster_run_id"], a["status"]) for a in attempts_of(engine, output_id)]
    assert history == [("run-a", "failed"), ("run-a", "failed"), ("run-b", "running")]


def test_runs_asking_at_once_get_one_claim(engine, output):
    start = threading.Barrier(8)

    def ask(n: int) -> str:
        start.wait()
        try:
            start_attempt(engine, *output, parameters={}, dagster_run_id=f"run-{n}")
        except OutputClaimed:
            return "waits"
        return "claims"

    with ThreadPoolExecutor(8) as pool:
        said = list(pool.map(ask, range(8)))
    assert sorted(said) == ["claims"] + ["waits"] * 7


def test_an_output_made_meanwhile_with_the_same_parameters_is_not_made_again(engine, output):
    planned = datetime.now(UTC)
    output_id, attempt = start_attempt(engine, *output, parameters={"faces": 2}, dagster_run_id="run-a")
    finish_attempt(engine, output_id, attempt, status="succeeded")
    with pytest.raises(MadeMeanwhile) as made:
        start_attempt(engine, *output, parameters={"faces": 2}, dagster_run_id="run-b", made_since=planned)
    assert made.value.run_id == "run-a" and made.value.output_id == output_id
    # planned after it was made (a re-materialisation asked for), or with other parameters: made again
    start_attempt(engine, *output, parameters={"faces": 2}, dagster_run_id="run-c", made_since=datetime.now(UTC))
    finish_attempt(engine, output_id, 2, status="succeeded")
    assert start_attempt(engine, *output, parameters={"faces": 3}, dagster_run_id="run-d", made_since=planned) == (output_id, 3)
