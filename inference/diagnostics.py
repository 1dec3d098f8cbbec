"""What ``meshmill models`` shows: whether each backend and image model can run here (and if not, why),
and one small test generation through a loaded backend."""

from __future__ import annotations

import importlib.util
import time
import warnings
from typing import Any

from PIL import Image, ImageDraw

from inference.backends import BACKENDS, ParamChoice
from inference.generators import ShapeGenerator
from inference.images.models import LEARNED_UPSCALERS, REMBG_LICENCES, rembg_model_path
from inference.params import GenerationParams
from inference.pipeline import generate_asset
from inference.runtime.weights import models_dir
from inference.views import VIEW_NAMES


def backend_report() -> list[dict[str, Any]]:
    """What ``meshmill models`` shows: for each backend, whether it can run here, and if not, why."""
    rows = []
    for spec in BACKENDS.values():
        missing_modules = spec.missing_modules()
        package = "installed" if not missing_modules else f"missing {', '.join(missing_modules)}: pip install 'meshmill[{spec.extra}]'"
        if spec.kind == "remote":
            url = spec.server_url()
            weights, found = (f"server {url}" if url else f"no server: set {spec.url_env}"), bool(url)
        elif spec.weight_files:
            missing = spec.missing_weights()
            found = not missing
            weights = (
                f"found in {models_dir()}"
                if found
                else f"missing in {models_dir()}: " + ", ".join(str(p.relative_to(models_dir())) for p in missing)
            )
        else:
            weights, found = "none needed", True
        rows.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "description": spec.description,
                "ready": found and not missing_modules,
                "package": package,
                "weights": weights,
                "device": spec.device,
                "views": sorted(spec.views, key=VIEW_NAMES.index),
                "own_texture": spec.textures,  # can give its textured surface (--texture-source backend)
                "params": {name: vars(declared) for name, declared in spec.params.items()},
                "licence": spec.licence.as_dict(),
            }
        )
    return rows


def image_model_report() -> list[dict[str, Any]]:
    """The learned upscalers and background removers, for ``meshmill models``."""
    files = [(u.name, "upscaler", u.package, "upscalers", u.path(), u.licence) for u in LEARNED_UPSCALERS.values()]
    files += [(m, "background", "rembg", "rembg", rembg_model_path(m), licence) for m, licence in REMBG_LICENCES.items()]
    rows = []
    for name, kind, module, extra, path, licence in files:
        installed = importlib.util.find_spec(module) is not None
        rows.append(
            {
                "name": name,
                "kind": kind,
                "ready": installed and path.is_file(),
                "package": "installed" if installed else f"missing {module}: pip install 'meshmill[{extra}]'",
                "weights": f"found: {path}" if path.is_file() else f"missing: {path}",
                "licence": licence.as_dict(),
            }
        )
    return rows


def check_generator(generator: ShapeGenerator) -> dict[str, Any]:
    """One small generation on a drawn test object (a rounded, two-tone vase); returns its figures."""
    image = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((68, 90, 188, 230), fill=(190, 90, 60, 255))
    draw.rectangle((104, 30, 152, 110), fill=(60, 120, 190, 255))
    spec = generator.spec
    quick: dict[str, Any] = {}  # few sampling steps and the coarsest volume: a check, not a result
    for name, declared in spec.params.items():
        if isinstance(declared, ParamChoice):
            continue  # the backend's default mode
        if name.endswith("steps"):
            quick[name] = min(declared.default, max(declared.low, 4))
        elif name == "octree_resolution":
            quick[name] = declared.low
    params = GenerationParams.resolve(None, backend=spec.name, target_faces=1000, texture_size=512, remove_background=False, **quick)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        asset = generate_asset({"front": image}, params, generator, name="check")
    return {"faces": asset.faces, "bytes": len(asset.glb), "seconds": time.perf_counter() - start}
