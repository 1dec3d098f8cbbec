from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from catalog import get_engine
from catalog.db import is_up_to_date


def test_migrations_create_exactly_the_tables_the_models_declare(database_url):
    engine = get_engine(database_url)  # migrates on first use
    assert is_up_to_date(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert differences == []
    assert set(SQLModel.metadata.tables) <= set(inspect(engine).get_table_names())


def test_migrating_twice_is_harmless(database_url):
    from catalog import dispose_engines, record_source

    engine = get_engine(database_url)
    record_source(engine, content_hash="a" * 64, filename="a.png", width=1, height=1, mode="RGB", byte_size=1, blob_key="k")
    dispose_engines()
    engine = get_engine(database_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM source_image").scalar() == 1


def test_the_view_migration_keeps_every_row_and_makes_each_image_its_own_front_view(database_url):
    """A catalog from before view sets (migration 0005) with an image, labels, a variant and two outputs."""
    from alembic import command
    from sqlalchemy import text

    from catalog import find, make_engine, migrate
    from catalog.db import alembic_config

    engine = make_engine(database_url)
    command.upgrade(alembic_config(engine), "0005")
    now = "2026-11-01 10:00:00+00:00"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO source_image (content_hash, filename, origin, width, height, mode, source_format, byte_size, blob_key,"
                " created_at) VALUES (:h, 'duck.png', 'style-v3', 512, 384, 'RGBA', 'PNG', 2048, :key, :now)"
            ),
            {"h": "d" * 64, "key": f"sources/dd/{'d' * 64}.png", "now": now},
        )
        conn.execute(text("INSERT INTO tag (name) VALUES ('hero')"))
        conn.execute(text("INSERT INTO image_tag (tag_id, source_image_id) VALUES (1, 1)"))
        conn.execute(text("INSERT INTO variant (name, backend, extra, created_at) VALUES ('mobile', 'builtin', '{}', :now)"), {"now": now})
        conn.execute(text("INSERT INTO variant (name, backend, extra, created_at) VALUES ('hero', 'builtin', '{}', :now)"), {"now": now})
        for variant, status, glb in ((1, "succeeded", "outputs/d/mobile/model.glb"), (2, "failed", None)):
            conn.execute(
                text(
                    "INSERT INTO output (source_image_id, variant_id, status, parameters, timings, glb_key, created_at, updated_at)"
                    " VALUES (1, :variant, :status, '{}', '{}', :glb, :now, :now)"
                ),
                {"variant": variant, "status": status, "glb": glb, "now": now},
            )
    migrate(engine)
    (record,) = find(engine)
    assert (record["filename"], record["origin"], record["tags"]) == ("duck.png", "style-v3", ["hero"])
    assert record["views"] == [
        {
            "view": "front",
            "content_hash": "d" * 64,
            "filename": "duck.png",
            "blob_key": f"sources/dd/{'d' * 64}.png",
            "width": 512,
            "height": 384,
            "mode": "RGBA",
            "source_format": "PNG",
            "byte_size": 2048,
        }
    ]
    outputs = {o["variant"]: o for o in record["outputs"]}
    assert (outputs["mobile"]["status"], outputs["mobile"]["views"]) == ("succeeded", ["front"])  # made from the one image
    assert (outputs["hero"]["status"], outputs["hero"]["views"]) == ("failed", None)  # made nothing
    engine.dispose()


def _open_at(url: str, start: float, results) -> None:  # noqa: ANN001 - a multiprocessing queue
    import time

    from sqlalchemy import text

    while time.time() < start:  # both processes reach their first connection at the same instant
        pass
    try:
        with get_engine(url).begin() as conn:
            conn.execute(text("SELECT count(*) FROM source_image"))
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - the failure is the result
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_sqlite_catalog_at_once_all_get_it(tmp_path):
    """Workers starting on a catalog file that does not exist yet: none is told "database is locked".

    Switching a new file to WAL needs it alone, and SQLite does not wait for that when two processes
    each hold a read lock while asking for it (a deadlock): one is answered at once. In CI it was one
    of four `meshmill ingest` processes starting together; two processes meeting exactly fail about one
    start in four, so twenty fresh catalogs all but ensure the meeting.
    """
    import multiprocessing
    import time

    # forked, so that they start in step with the test's imports; this process never opens the files
    # (a forked copy of an open SQLite connection would hold its lock for ever in the child)
    context = multiprocessing.get_context("fork")
    failures = []
    for round_ in range(20):
        url = f"sqlite:///{tmp_path / f'catalog-{round_}.db'}"
        results = context.Queue()
        start = time.time() + 0.2
        processes = [context.Process(target=_open_at, args=(url, start, results)) for _ in range(2)]
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=120) for _ in processes]
        for process in processes:
            process.join()
        failures += [outcome for outcome in outcomes if outcome != "ok"]
    assert failures == []
