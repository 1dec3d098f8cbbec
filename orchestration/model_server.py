"""``meshmill model-server``: any in-process backend behind Hunyuan3D-2's ``api_server.py`` protocol.

A studio runs this on a GPU box (``meshmill model-server --backend hunyuan3d-2``) and points other
machines' ``remote`` backend at it. ``POST /generate`` takes the api_server JSON body and answers with
a GLB: the shape cut to ``face_count`` by our clean-up, or, with ``"texture": true``, the textured asset.
The body may carry knobs of other models (the protocol is shared): the served model reads its own and
names the others in the answer's ``X-Meshmill-Ignored`` header.
Errors answer ``{"text": ..., "error_code": 1}`` like api_server (400 for bad input, 422 when the model
decoded no surface, 500 otherwise).
One generation runs at a time; the model is loaded once, at start-up.
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
import warnings

import trimesh
from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse, Response

from inference.backends import BACKEND_FIELDS, backend_spec
from inference.generators import EmptySurface, get_generator
from inference.generators.remote import EMPTY_SURFACE_STATUS, IGNORED_HEADER, PARAMETER_KEYS
from inference.images.decode import ImageError, decode_image
from inference.mesh.cleanup import MeshError
from inference.params import GenerationParams, ParameterError
from inference.pipeline import clean_views, generate_asset, make_shape, upscale_views
from inference.views import ViewError

GLB_TYPE = "model/gltf-binary"


def _error(status: int, text: str) -> JSONResponse:
    return JSONResponse({"text": text, "error_code": 1}, status_code=status)


def _image(data: object, name: str):  # noqa: ANN202
    if not isinstance(data, str):
        raise ImageError(f"{name}: expected a base64 string")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError(f"{name}: not valid base64") from None
    return decode_image(raw, name).image


def create_app(backend: str, device: str | None = None, defaults: dict[str, object] | None = None) -> FastAPI:
    """The server of ``backend``; ``defaults``: values of the model's own knobs for requests that leave them out."""
    spec = backend_spec(backend)
    if spec.kind == "remote":
        raise ValueError(f"backend {backend!r} is itself remote; serve an in-process backend")
    foreign = sorted(set(defaults or {}) - set(spec.params))
    if foreign:
        raise ParameterError(f"--default {', '.join(foreign)}: backend {backend!r} has no such knob (it has {', '.join(spec.params)})")
    defaults = GenerationParams.resolve(None, backend=backend, **(defaults or {})).model_dump(include=set(defaults or {}))
    generator = get_generator(backend, device)
    unused = set(BACKEND_FIELDS) - set(spec.params)  # backend knobs of other models
    lock = threading.Lock()
    app = FastAPI(title=f"meshmill model server: {backend}")

    @app.get("/status")
    def status() -> dict:
        return {"backend": spec.name, "model_version": generator.version, "views": sorted(spec.views), "busy": lock.locked()}

    @app.post("/generate")
    def generate(body: dict = Body(...)) -> Response:  # a plain def: FastAPI runs it in a worker thread
        try:
            images = {"front": _image(body.get("image"), "image")}
            for name, data in (body.get("mv_images") or {}).items():
                images[name] = _image(data, f"mv_images.{name}")
            given = {field: body[key] for key, field in PARAMETER_KEYS.items() if body.get(key) is not None}
            # the protocol carries every backend's knobs; this model reads its own and says which it ignored
            ignored = sorted(key for key, field in PARAMETER_KEYS.items() if field in given and field in unused)
            params = GenerationParams.resolve(None, backend=backend, **{**defaults, **{f: v for f, v in given.items() if f not in unused}})
            texture = bool(body.get("texture", False))
            if body.get("type", "glb") != "glb":
                raise ParameterError(f"type {body.get('type')!r} is not served: only 'glb'")
            with lock, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if texture:
                    return Response(generate_asset(images, params, generator).glb, media_type=GLB_TYPE, headers=_ignored(ignored))
                mesh = make_shape(upscale_views(clean_views(images, params), params), params, generator).mesh
        except (ImageError, ParameterError, ViewError) as exc:
            return _error(400, str(exc))
        except EmptySurface as exc:  # the same request gives the same nothing: not worth a retry
            return _error(EMPTY_SURFACE_STATUS, str(exc))
        except (MeshError, RuntimeError, ValueError) as exc:
            return _error(500, f"{backend} failed: {exc}")
        out = io.BytesIO()
        trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).export(out, file_type="glb")
        return Response(out.getvalue(), media_type=GLB_TYPE, headers=_ignored(ignored))

    return app


def _ignored(keys: list[str]) -> dict[str, str]:
    """The header naming the request's parameters this server's model does not use (sent with each answer)."""
    return {IGNORED_HEADER: ", ".join(keys)} if keys else {}
