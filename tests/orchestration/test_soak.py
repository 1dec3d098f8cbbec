"""The soak benchmark, small: a batch through `convert --workers 2` while convert and a worker are killed with
`kill -9` at random moments; afterwards every output is made exactly once and every blob is what was written.
(The full one, 500 images: `benchmarks/soak.py`; its figures are in docs/explanation/failures.md.)"""

import json
import subprocess
import sys

from tests.support import ROOT


def test_kills_of_convert_and_of_a_worker_leave_every_output_made_once_and_intact():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--images", "8", "--kills", "3", "--seed", "1", "--delay", "8", "14",
         "--json"], capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 0, (figures, result.stderr[-3000:])
    assert figures["kills_of_convert"] + figures["kills_of_a_worker"] >= 1  # up to 3: the batch may end before the last
    assert figures["outputs_made"] == 8 and figures["outputs_made_twice_or_more"] == 0
    assert figures["damaged_or_missing_blobs"] == 0 and figures["check_findings"] == []
