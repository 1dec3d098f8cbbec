"""The pictures the image stages hand on, per view, with a manifest saying which views and made how.

Each image stage stores one PNG per view, then ``views.json`` beside them (``catalog.keys``): the views it
stored, the settings it used and any warnings. The manifest is written last, so it never names a view
that is not there, and the next stage reads the settings from it — which is how an output records the
image-stage settings that really made it, whichever run made them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from catalog import BlobNotFound, BlobStore
from catalog.keys import view_key, views_manifest_key
from inference.images.decode import decode_image
from inference.views import FramedViews

#: which asset stores each stage's views, for the message when they are missing
_MADE_BY = {"cleaned": "cleaned_image", "framed": "upscaled_image"}


@dataclass
class StoredViews:
    pngs: dict[str, bytes]
    settings: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def images(self) -> dict[str, Image.Image]:
        return {view: decode_image(png, f"{view} view").image for view, png in self.pngs.items()}

    def framed(self, accepted: Iterable[str] | None = None) -> FramedViews:
        """The views in the shared frame; ``accepted``: only these (a backend that takes fewer views), the rest never decoded."""
        wanted = set(self.pngs if accepted is None else accepted)
        pngs = {view: png for view, png in self.pngs.items() if view in wanted}
        return FramedViews.from_pngs(pngs, self.warnings)


def store_views(blobs: BlobStore, stage: str, content_hash: str, views: StoredViews) -> list[str]:
    """Write each view's PNG, then the manifest; returns the views' keys."""
    keys = []
    for view, png in views.pngs.items():
        keys.append(view_key(stage, content_hash, view))
        blobs.put(keys[-1], png, "image/png")
    manifest = {"views": list(views.pngs), "settings": views.settings, "warnings": views.warnings}
    blobs.put(views_manifest_key(stage, content_hash), json.dumps(manifest, indent=1).encode(), "application/json")
    return keys


def stored_settings(blobs: BlobStore, stage: str, content_hash: str) -> dict[str, Any] | None:
    """The settings an image stage stored its views with, when every view its manifest names is there (the
    pictures are not read); None when nothing usable is stored."""
    try:
        manifest = json.loads(blobs.get(views_manifest_key(stage, content_hash)))
        views, settings = manifest["views"], manifest.get("settings")
    except (BlobNotFound, ValueError, KeyError, TypeError):  # none stored, or a manifest not understood
        return None
    return settings if all(blobs.exists(view_key(stage, content_hash, view)) for view in views) else None


def load_views(blobs: BlobStore, stage: str, content_hash: str) -> StoredViews:
    """The views an image stage stored, with its settings; ``BlobNotFound`` says which asset to materialise."""
    try:
        manifest = json.loads(blobs.get(views_manifest_key(stage, content_hash)))
    except BlobNotFound:
        raise BlobNotFound(f"no {stage} views of image {content_hash[:16]} are stored: materialise {_MADE_BY[stage]} first") from None
    pngs = {view: blobs.get(view_key(stage, content_hash, view)) for view in manifest["views"]}
    return StoredViews(pngs, manifest.get("settings", {}), manifest.get("warnings", []))
