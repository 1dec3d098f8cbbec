"""Where everything Meshmill stores lives: the one home of the blob-key layout, and the image partition key.

Every key derives from a content hash, so a key never depends on a file name and the same picture
always lands in the same place. Each view of a source object is stored under its own file's hash
(sha256 of the file as ingested); everything made from the object is under the object's hash ``h``
(``object_hash``: the front's own for an object of one front view):

    sources/<v[:2]>/<v>.png                  an ingested view, as an 8-bit RGB/RGBA PNG
    cleaned/<h>/<view>.png                   each view cut out of its background
    cleaned/<h>/views.json                   which views, and the settings that cut them out
    framed/<h>/<view>.png                    each view upscaled and framed: what the 3D stages read
    framed/<h>/views.json                    which views, the settings of both image stages, framing warnings
    meshes/<h>/<variant>.ply                 the variant's shape, cleaned and within budget
    meshes/<h>/<variant>.dense.ply           the surface before decimation, where a normal map is baked from it
    meshes/<h>/<variant>.painted.glb         the backend's own textured surface, where the texture comes from it
    outputs/<h>/<variant>/model.glb          the textured GLB
    outputs/<h>/<variant>/obj.zip            OBJ + MTL + textures, kept where the GLB cannot give them back (quads, LODs)
    outputs/<h>/<variant>/preview.png        its preview render
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

#: the image partition key is this many hex digits of the content hash (64 bits: no collision in practice)
IMAGE_KEY_LENGTH = 16


def object_hash(view_hashes: Mapping[str, str]) -> str:
    """The content hash of a source object from its views' hashes (view name → hash).

    An object of one front view is that picture's hash, so a single image is the same object
    whichever way it was ingested; otherwise the hash of the sorted ``view=hash`` lines."""
    if set(view_hashes) == {"front"}:
        return view_hashes["front"]
    lines = "".join(f"{view}={digest}\n" for view, digest in sorted(view_hashes.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def image_partition_key(content_hash: str, name: str) -> str:
    """The Dagster partition key of a source object: its catalogued name made readable, then the start of its content
    hash (``duck.png`` → ``duck-98bdb802952779f7``), so the UI's partition filter finds "duck"; unique and stable by
    the hash (the name is the one the object was first catalogued under)."""
    return f"{partition_name(name)}-{content_hash[:IMAGE_KEY_LENGTH]}"


def output_partition_key(image_key: str, variant: str) -> str:
    """The key of an (object, variant) partition of the 3D assets, as Dagster writes a ``MultiPartitionKey`` of the
    dimensions ``image`` and ``variant`` (its dimensions' keys in the order of their names, joined by ``|``)."""
    return f"{image_key}|{variant}"


def split_output_partition_key(key: str) -> tuple[str, str]:
    """``(image key, variant)`` of an ``output_partition_key`` (an image partition's key: ``(key, "")``)."""
    image_key, _, variant = key.partition("|")
    return image_key, variant


def partition_name(name: str) -> str:
    """``Rubber Duck_v2.png`` → ``rubber-duck-v2``: lower case, a-z 0-9 and single dashes, at most 40 characters."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", name)
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:40].strip("-") or "object"


def hash_prefix_of(image_key: str) -> str:
    """The start of the content hash an image partition key ends with (a key from before names were in keys, all
    hash, is its own)."""
    prefix = image_key.rsplit("-", 1)[-1]
    if not re.fullmatch(rf"[0-9a-f]{{{IMAGE_KEY_LENGTH}}}", prefix):
        raise ValueError(f"{image_key!r} is not an image partition key (name-<{IMAGE_KEY_LENGTH} hex digits of its hash>)")
    return prefix


def source_key(content_hash: str) -> str:
    return f"sources/{content_hash[:2]}/{content_hash}.png"


#: the image stages that store a picture per view, and the folder each stores them in
VIEW_STAGES = ("cleaned", "framed")


def view_key(stage: str, content_hash: str, view: str) -> str:
    """One view's picture as an image stage (``cleaned`` or ``framed``) stored it."""
    return f"{_view_stage(stage)}/{content_hash}/{view}.png"


def views_manifest_key(stage: str, content_hash: str) -> str:
    """The image stage's manifest: which views it stored, with what settings (written after the views)."""
    return f"{_view_stage(stage)}/{content_hash}/views.json"


def _view_stage(stage: str) -> str:
    if stage not in VIEW_STAGES:
        raise ValueError(f"no image stage {stage!r}: use one of {', '.join(VIEW_STAGES)}")
    return stage


def mesh_key(content_hash: str, variant: str) -> str:
    return f"meshes/{content_hash}/{variant}.ply"


def dense_mesh_key(content_hash: str, variant: str) -> str:
    """The surface before decimation, kept for a variant that bakes a normal map (so re-texturing can bake it again)."""
    return f"meshes/{content_hash}/{variant}.dense.ply"


def painted_mesh_key(content_hash: str, variant: str) -> str:
    """The backend's own textured surface, kept for a variant whose texture comes from the backend (so re-texturing
    can carry its maps over again)."""
    return f"meshes/{content_hash}/{variant}.painted.glb"


def glb_key(content_hash: str, variant: str) -> str:
    return f"outputs/{content_hash}/{variant}/model.glb"


def obj_zip_key(content_hash: str, variant: str) -> str:
    return f"outputs/{content_hash}/{variant}/obj.zip"


def format_key(content_hash: str, variant: str, name: str, suffix: str) -> str:
    """A further export format's blob: ``model.fbx``, ``model.usdz`` …, or ``model.<name>.zip`` for a format of
    several files (``suffix`` ``.zip``)."""
    return f"outputs/{content_hash}/{variant}/model.{name}.zip" if suffix == ".zip" else f"outputs/{content_hash}/{variant}/model{suffix}"


def preview_key(content_hash: str, variant: str) -> str:
    return f"outputs/{content_hash}/{variant}/preview.png"


def output_blob_keys(content_hash: str, variant: str) -> tuple[str, ...]:
    """Every key an output of ``variant`` may have made, bar its further formats' (``format_keys`` names those)."""
    return (
        mesh_key(content_hash, variant),
        dense_mesh_key(content_hash, variant),
        painted_mesh_key(content_hash, variant),
        glb_key(content_hash, variant),
        obj_zip_key(content_hash, variant),
        preview_key(content_hash, variant),
    )


_HASH = r"[0-9a-f]{64}"
_PART = r"[A-Za-z0-9._=+-]+"
#: the layout above, read backwards: each pattern names what owns a key
_OWNED_BY = (
    re.compile(rf"sources/[0-9a-f]{{2}}/(?P<view>{_HASH})\.png"),
    re.compile(rf"(cleaned|framed)/(?P<object>{_HASH})/{_PART}"),
    re.compile(rf"meshes/(?P<object>{_HASH})/(?P<variant>[^/]+?)((\.dense)?\.ply|\.painted\.glb)"),
    re.compile(rf"outputs/(?P<object>{_HASH})/(?P<variant>[^/]+)/{_PART}"),
)


@dataclass(frozen=True)
class KeyOwner:
    """What a blob key belongs to: a picture (``view``: its hash), or an object's stage (``object``), and for the
    3D stages the variant too."""

    view: str | None = None
    object: str | None = None
    variant: str | None = None


def key_owner(key: str) -> KeyOwner | None:
    """Who owns ``key`` in the layout above; None for a key outside it."""
    for pattern in _OWNED_BY:
        match = pattern.fullmatch(key)
        if match:
            return KeyOwner(**match.groupdict())
    return None
