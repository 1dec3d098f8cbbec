"""The documentation site (``make docs``): it builds strictly, and its references cover the code they describe."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from inference.params import GenerationParams
from tools.docs.cli import command_paths

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("orchestration", "assets", "inference", "catalog")
#: names the code writes that are not settings: stdout markers of its Blender scripts, the index it gives a worker
NOT_SETTINGS = {"MESHMILL_RENDERED", "MESHMILL_FBX_WRITTEN", "MESHMILL_FBX_FAILED", "MESHMILL_WORKER"}
pytestmark = pytest.mark.xdist_group("docs")  # one build of the site, on one worker


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def text_of(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page.read_text()))


def test_every_command_has_its_section_with_its_options(site: Path) -> None:
    page = (site / "reference" / "cli" / "index.html").read_text()
    headings = {html.unescape(re.sub(r"<[^>]+>", "", h)).replace("¶", "").strip() for h in re.findall(r"<h\d[^>]*>(.*?)</h\d>", page, re.S)}
    paths = command_paths()
    assert {"meshmill convert", "meshmill catalog find", "meshmill variant add"} <= set(paths)
    missing = [path for path in paths if path not in headings]
    assert not missing, f"commands without a section in the CLI reference: {missing}"
    convert = text_of(site / "reference" / "cli" / "index.html").split("meshmill convert", 2)[-1]
    for option in ("--collection", "--tag", "--variant", "--workers", "--force"):
        assert option in convert


def test_every_generation_parameter_is_in_the_reference(site: Path) -> None:
    text = text_of(site / "reference" / "parameters" / "index.html")
    for name in GenerationParams.model_fields:
        assert f"{name} " in text, name
    assert "--faces" in text and "500–200,000" in text  # the option and the range come from the code


def test_every_environment_variable_the_code_reads_is_documented(site: Path) -> None:
    named = set()
    for package in PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            named |= set(re.findall(r"[\"'](MESHMILL_[A-Z0-9_]+)[\"']", source.read_text()))
    text = text_of(site / "reference" / "environment" / "index.html")
    missing = sorted(name for name in named - NOT_SETTINGS if name not in text)
    assert {"MESHMILL_HOME", "MESHMILL_S3_ENDPOINT"} <= named
    assert not missing, f"variables the code reads that the environment reference does not list: {missing}"


def test_the_benchmarks_and_the_tutorial_are_pages_of_the_site(site: Path) -> None:
    benchmarks = text_of(site / "benchmarks" / "index.html")
    assert "Orchestration: overhead and scaling" in benchmarks and "Catalog at 1,000,000 outputs" in benchmarks
    tutorial = site / "tutorials" / "first-batch" / "index.html"
    for picture in re.findall(r'<img[^>]+src="([^"]+)"', tutorial.read_text()):
        assert (tutorial.parent / picture).resolve().is_file(), picture


def test_every_option_and_argument_of_every_command_says_what_it_is_for() -> None:
    """`meshmill convert --help` once listed --collection, --tag and --origin with no word on them."""
    from tools.docs.cli import _command

    silent = []

    def walk(group: object, prefix: str) -> None:
        for name, command in getattr(group, "commands", {}).items():
            walk(command, f"{prefix} {name}")
            for param in getattr(command, "params", []) if not hasattr(command, "commands") else []:
                if param.name != "help" and not (getattr(param, "help", None) or "").strip():
                    silent.append(f"{prefix} {name} {param.opts[0]}")

    walk(_command(), "meshmill")
    assert not silent, f"without help: {silent}"
