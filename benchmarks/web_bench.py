"""Web app benchmark: the search page's server time at N outputs (default 100,000), on PostgreSQL.

    .venv/bin/python benchmarks/web_bench.py [--outputs 100000] [--requests 200]

Fills a throwaway PostgreSQL cluster the way ``catalog_bench.py`` does (N/4 images × 4 variants,
Zipf-distributed tags and collections), starts ``meshmill serve`` on it, and requests the search page
(HTML, 24 images a page with every output and label) and the JSON search for random filters. Prints
p50/p95 of the server time (the app's ``Server-Timing`` header: routing, queries, rendering) and of
the whole request as a client on the same machine sees it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.catalog_bench import VARIANTS, copy_outputs, make_sources, percentiles  # noqa: E402
from catalog import get_engine, record_sources  # noqa: E402
from tests.support.servers import create_database, meshmill_server, throwaway_postgres  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per kind")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with contextlib.ExitStack() as stack:
        url = create_database(stack.enter_context(throwaway_postgres(durable=True)), "web_bench")
        engine = get_engine(url)
        sources = make_sources(args.outputs // len(VARIANTS), rng)
        image_ids: list[int] = []
        for i in range(0, len(sources), 5000):
            image_ids += [r.id for r in record_sources(engine, sources[i : i + 5000])]
        n_outputs = copy_outputs(engine, image_ids, rng)
        engine.dispose()

        home = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        env = {**os.environ, "MESHMILL_DATABASE_URL": url, "MESHMILL_HOME": str(home)}
        base = stack.enter_context(meshmill_server("serve", env=env, log=home / "serve.log"))
        client = httpx.Client(base_url=base, timeout=30)
        tags = [f"tag-{i:03d}" for i in range(300)]
        collections = [f"collection-{i:02d}" for i in range(60)]
        kinds = {
            "page: no filter": ("/", lambda: {}),
            "page: tag": ("/", lambda: {"tag": tags[rng.integers(len(tags))]}),
            "page: collection": ("/", lambda: {"collection": collections[rng.integers(len(collections))]}),
            "page: tag + collection": (
                "/",
                lambda: {"tag": tags[rng.integers(len(tags))], "collection": collections[rng.integers(len(collections))]},
            ),
            "page: approved, variant, succeeded": (
                "/",
                lambda: {"tag": "approved", "variant": VARIANTS[rng.integers(4)], "status": "succeeded"},
            ),
            "api: tag": ("/api/search", lambda: {"tag": tags[rng.integers(len(tags))]}),
        }
        print(f"web app on PostgreSQL: {len(image_ids):,} source images, {n_outputs:,} outputs; {args.requests} requests each")
        print(f"{'request':36} {'server p50 ms':>14} {'p95':>7} {'client p50 ms':>14} {'p95':>7}")
        for name, (path, make) in kinds.items():
            for _ in range(10):
                client.get(path, params=make())
            server_ms, client_ms = [], []
            for _ in range(args.requests):
                response = client.get(path, params=make())
                assert response.status_code == 200, response.text[:300]
                server_ms.append(float(response.headers["server-timing"].split("dur=")[1]))
                client_ms.append(response.elapsed.total_seconds() * 1000)
            (s50, s95), (c50, c95) = percentiles(server_ms), percentiles(client_ms)
            print(f"{name:36} {s50:14.1f} {s95:7.1f} {c50:14.1f} {c95:7.1f}", flush=True)


if __name__ == "__main__":
    main()
