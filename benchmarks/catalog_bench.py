"""Catalog benchmark: fill PostgreSQL with N outputs, then time the queries studios run all day.

    .venv/bin/python benchmarks/catalog_bench.py                 # 1,000,000 outputs, throwaway cluster
    .venv/bin/python benchmarks/catalog_bench.py --outputs 100000 --database-url postgresql+psycopg://…

Data: N/4 source images with 4 variants each. Tags follow a Zipf law over 300 names (1 + Poisson(1.5)
per image), collections a Zipf law over 60 names (10 % of images in two), and outputs carry
`approved` (15 %) and `needs-fix` (3 %). Source images go in through ``catalog.record_sources`` —
the product's bulk path — and that is the ingest figure; outputs are bulk-copied (not timed).

Each query is the full ``catalog.find`` call (first page of 50, the default, and of 100, with outputs and labels), for
labels drawn uniformly from the vocabulary, so rare and common ones are both measured; each is timed twice in a row,
for full records and for summaries (``summary=True``, what the web search page and the `catalog find` table read).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog import NewSource, find, get_engine, record_sources  # noqa: E402
from catalog.models import utcnow  # noqa: E402

VARIANTS = ["mobile", "desktop", "hero", "hunyuan-desktop"]
STATUSES = np.array(["succeeded", "failed", "pending"])


def zipf_weights(n: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def make_sources(n_images: int, rng: np.random.Generator) -> list[NewSource]:
    tags = [f"tag-{i:03d}" for i in range(300)]
    collections = [f"collection-{i:02d}" for i in range(60)]
    tag_p, coll_p = zipf_weights(len(tags), 1.1), zipf_weights(len(collections), 1.0)
    counts = np.minimum(1 + rng.poisson(1.5, n_images), 8)
    sources = []
    for i in range(n_images):
        chosen = rng.choice(len(tags), counts[i], replace=False, p=tag_p)
        in_two = rng.random() < 0.1
        colls = rng.choice(len(collections), 2 if in_two else 1, replace=False, p=coll_p)
        sources.append(
            NewSource(
                content_hash=f"{i:064x}",
                filename=f"render_{i:07d}.png",
                width=1024,
                height=1024,
                mode="RGBA",
                byte_size=int(rng.integers(200_000, 2_000_000)),
                blob_key=f"sources/{i:064x}.png",
                origin="style-model-v3",
                tags=tuple(tags[j] for j in chosen),
                collections=tuple(collections[j] for j in colls),
            )
        )
    return sources


def copy_outputs(engine, image_ids: list[int], rng: np.random.Generator) -> int:  # noqa: ANN001
    """Bulk-copy one output per image × variant, and the output-level tags."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        variant_ids = []
        for name in VARIANTS:
            cur.execute(
                "INSERT INTO variant (name, backend, target_faces, extra, created_at) "
                "VALUES (%s, 'builtin', 20000, '{}', now()) RETURNING id",
                (name,),
            )
            variant_ids.append(cur.fetchone()[0])
        for tag in ("approved", "needs-fix"):
            cur.execute("INSERT INTO tag (name) VALUES (%s) ON CONFLICT DO NOTHING", (tag,))
        cur.execute("SELECT name, id FROM tag WHERE name IN ('approved', 'needs-fix')")
        tag_ids = dict(cur.fetchall())
        now = utcnow().isoformat()
        output_id = 0
        tag_rows = io.StringIO()
        with cur.copy(
            "COPY output (id, source_image_id, variant_id, status, parameters, timings, face_count, "
            "vertex_count, byte_size, glb_key, created_at, updated_at) FROM STDIN"
        ) as copy:
            for image_id in image_ids:
                for variant_id in variant_ids:
                    output_id += 1
                    status = STATUSES[np.searchsorted([0.9, 0.95], rng.random())]
                    copy.write_row(
                        (
                            output_id,
                            image_id,
                            variant_id,
                            status,
                            '{"steps": 30}',
                            '{"mesh": 1.2}',
                            20000,
                            10002,
                            1_500_000,
                            f"outputs/{output_id}.glb",
                            now,
                            now,
                        )
                    )
                    roll = rng.random()
                    if roll < 0.15:
                        tag_rows.write(f"{tag_ids['approved']}\t{image_id}\t{output_id}\n")
                    elif roll < 0.18:
                        tag_rows.write(f"{tag_ids['needs-fix']}\t{image_id}\t{output_id}\n")
        with cur.copy("COPY image_tag (tag_id, source_image_id, output_id) FROM STDIN") as copy:
            copy.write(tag_rows.getvalue())
        cur.execute("SELECT setval(pg_get_serial_sequence('output', 'id'), %s)", (output_id,))
        raw.commit()
        raw.driver_connection.autocommit = True
        cur.execute("VACUUM ANALYZE")
        return output_id
    finally:
        raw.close()


def percentiles(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49], q[94]


def time_queries(engine, make_filters, n: int) -> dict[str, list[float]]:  # noqa: ANN001
    """Milliseconds per call, for full records and for summaries, each pair on the same filters."""
    for _ in range(10):  # warm the cache and the connection pool
        find(engine, **make_filters())
    timings: dict[str, list[float]] = {"full": [], "summary": []}
    for _ in range(n):
        filters = make_filters()
        for way, summary in (("full", False), ("summary", True)):
            start = time.perf_counter()
            find(engine, summary=summary, **filters)
            timings[way].append((time.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs", type=int, default=1_000_000, help="number of outputs (default 1,000,000)")
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: a throwaway cluster)")
    parser.add_argument("--queries", type=int, default=300, help="queries per kind")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    with contextlib.ExitStack() as stack:
        url = args.database_url
        if url is None:
            from tests.support.servers import create_database, throwaway_postgres

            url = create_database(stack.enter_context(throwaway_postgres(durable=True)), "catalog_bench")
        engine = get_engine(url)
        n_images = args.outputs // len(VARIANTS)
        print(f"generating {n_images:,} source images …", flush=True)
        sources = make_sources(n_images, rng)

        start = time.perf_counter()
        image_ids: list[int] = []
        for i in range(0, len(sources), 5000):
            image_ids += [r.id for r in record_sources(engine, sources[i : i + 5000])]
        ingest_s = time.perf_counter() - start
        print(f"ingested {n_images:,} source images with labels in {ingest_s:.1f} s", flush=True)
        n_outputs = copy_outputs(engine, image_ids, rng)
        print(f"copied {n_outputs:,} outputs; running {args.queries} queries of each kind …", flush=True)

        tags = [f"tag-{i:03d}" for i in range(300)]
        collections = [f"collection-{i:02d}" for i in range(60)]
        kinds = {
            "find by tag": lambda: {"tags": [tags[rng.integers(len(tags))]]},
            "find by collection": lambda: {"collection": collections[rng.integers(len(collections))]},
            "tag AND collection": lambda: {
                "tags": [tags[rng.integers(len(tags))]],
                "collection": collections[rng.integers(len(collections))],
            },
            "approved outputs of a variant": lambda: {
                "tags": ["approved"],
                "variant": VARIANTS[rng.integers(len(VARIANTS))],
                "status": "succeeded",
            },
        }
        print(f"\ncatalog benchmark on PostgreSQL: {n_images:,} source images, {n_outputs:,} outputs")
        pages = (50, 100)
        columns = (f" {f'page {page}: p50':>14} {'p95':>6} {'summary p50':>12} {'p95':>6}" for page in pages)
        print(f"{'query (first page), ms':34}" + "".join(columns))
        for name, make in kinds.items():
            row = f"{name:34}"
            for page in pages:
                timings = time_queries(engine, lambda make=make, page=page: {**make(), "limit": page}, args.queries)
                for way, width in (("full", 14), ("summary", 12)):
                    p50, p95 = percentiles(timings[way])
                    row += f" {p50:{width}.2f} {p95:6.2f}"
            print(row, flush=True)
        print(f"{'bulk ingest (record_sources)':34} {n_images / ingest_s:8,.0f} rows/s")
        engine.dispose()


if __name__ == "__main__":
    main()
