"""Training meshes for the shape prior from 0 A.D.'s art (Debian's ``0ad-data``, CC-BY-SA 3.0).

    apt-get download 0ad-data && dpkg -x 0ad-data_*.deb 0ad
    python -m tools.shape_prior.prepare 0ad/usr/share/games/0ad/mods/public/public.zip prior-data

Writes ``prior-data/train.npz`` (every training mesh, normalised: bounding-box centre at the origin, largest
extent 2, +Y up) and ``prior-data/heldout/<name>/<name>.obj``, the objects never trained on, in the layout
``meshmill eval`` reads. The split is by family (a name without its trailing variant letter or number, so
``crate_a`` and ``crate_b`` fall on the same side) and fixed: a family is held out when the first byte of
its SHA-256 is below 26 (about one in ten).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import zipfile
from pathlib import Path

import numpy as np
import trimesh

from tools.shape_prior.pmd import PmdError, read_pmd

#: the folders of art/meshes used: props, buildings, trees and rocks, and the units' and animals' meshes
FOLDERS = ("props", "structural", "gaia", "skeletal")
MIN_FACES = 40
MAX_FACES = 20_000
#: a mesh thinner than this share of its largest extent in two axes is a decal or a card, not an object
MIN_THICKNESS = 0.02


def family(name: str) -> str:
    stem = name.rsplit("/", 1)[-1].removesuffix(".dae.cached.pmd")
    return re.sub(r"([_-]?([a-z]|\d+))+$", "", stem) or stem


def held_out(name: str) -> bool:
    return hashlib.sha256(family(name).encode()).digest()[0] < 26


def normalised(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh | None:
    mesh = trimesh.Trimesh(vertices, faces, process=True)  # merges the vertices PMD splits by UV
    mesh.remove_unreferenced_vertices()
    if not (MIN_FACES <= len(mesh.faces) <= MAX_FACES):
        return None
    lo, hi = mesh.bounds
    extent = hi - lo
    if extent.max() <= 0 or np.sort(extent)[1] < MIN_THICKNESS * extent.max():
        return None
    mesh.apply_translation(-(lo + hi) / 2)
    mesh.apply_scale(2.0 / extent.max())
    return mesh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("public_zip", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    archive = zipfile.ZipFile(args.public_zip)
    names = sorted(n for n in archive.namelist() if n.endswith(".pmd") and n.startswith("art/meshes/") and n.split("/")[2] in FOLDERS)
    triangles, offsets, kept = [], [0], []
    counts = {"heldout": 0, "skipped": 0}
    for name in names:
        try:
            mesh = normalised(*read_pmd(archive.read(name), name))
        except PmdError:
            mesh = None
        if mesh is None:
            counts["skipped"] += 1
            continue
        stem = name.rsplit("/", 1)[-1].removesuffix(".dae.cached.pmd")
        if held_out(name):
            folder = args.out / "heldout" / stem
            folder.mkdir(parents=True, exist_ok=True)
            mesh.export(folder / f"{stem}.obj")
            counts["heldout"] += 1
            continue
        triangles.append(mesh.vertices.astype(np.float32)[mesh.faces].astype(np.float16))
        offsets.append(offsets[-1] + len(mesh.faces))
        kept.append(name)
    np.savez_compressed(
        args.out / "train.npz",
        triangles=np.concatenate(triangles),
        offsets=np.asarray(offsets, np.int64),
        names=np.asarray(kept),
    )
    print({"train": len(kept), **counts})


if __name__ == "__main__":
    main()
