"""Where everything Meshmill stores lives: the one home of the blob-key layout, and the image partition key.

Every key derives from the source image's content hash (sha256 of the file as ingested), so a key
never depends on a file name and the same image always lands in the same place:

    sources/<h[:2]>/<h>.png                  the ingested image, as an 8-bit RGB/RGBA PNG
    cleaned/<h>/<view>.png                   each view cut out of its background
    cleaned/<h>/views.json                   which views, and the settings that cut them out
    framed/<h>/<view>.png                    each view upscaled and framed: what the 3D stages read
    framed/<h>/views.json                    which views, the settings of both image stages, framing warnings
    meshes/<h>/<variant>.ply                 the variant's shape, cleaned and within budget
    outputs/<h>/<variant>/model.glb          the textured GLB
    outputs/<h>/<variant>/preview.png        its preview render
"""

from __future__ import annotations

#: the image partition key is this many hex digits of the content hash (64 bits: no collision in practice)
IMAGE_KEY_LENGTH = 16


def image_partition_key(content_hash: str) -> str:
    """The Dagster partition key of a source image: the start of its content hash, never a file name."""
    return content_hash[:IMAGE_KEY_LENGTH]


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


def glb_key(content_hash: str, variant: str) -> str:
    return f"outputs/{content_hash}/{variant}/model.glb"


def preview_key(content_hash: str, variant: str) -> str:
    return f"outputs/{content_hash}/{variant}/preview.png"
