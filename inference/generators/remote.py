"""A shape generator that runs on a model server, over HTTP.

The request and response follow Hunyuan3D-2's ``api_server.py``: ``POST /generate`` with a JSON body
(``image`` as base64 PNG, ``seed``, ``octree_resolution``, ``num_inference_steps``, ``guidance_scale``,
``face_count``, ``texture``, ``type``) answered by the GLB file, or by JSON ``{"text", "error_code"}``
on failure (``meshmill model-server`` answers 422 when the model decoded no surface, which this client
raises as ``EmptySurface``). Meshmill adds keys such servers ignore: ``mv_images`` (base64 PNGs of the other views, by
name), ``stage2_steps`` / ``stage2_guidance_scale`` (TRELLIS's second sampler, TRELLIS.2's shape sampler),
``stage3_steps`` / ``stage3_guidance_scale`` (TRELLIS.2's texture sampler) and ``pipeline_type`` (TRELLIS.2's
resolution mode). ``meshmill
model-server`` serves any in-process backend this way.

The server returns a shape; Meshmill's own clean-up, UV unwrap and texture bake follow as for any backend.
With ``texture_source="backend"`` the request asks for ``"texture": true`` and the textured GLB the server answers
(TRELLIS.2's base colour, metallic and roughness; Hunyuan3D-Paint's base colour) is carried onto the budget mesh.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import time

import httpx
import numpy as np
import trimesh

from inference.backends import BackendSpec
from inference.errors import EmptySurface
from inference.generators.base import TextureUnavailable, has_texture
from inference.images.decode import encode_png
from inference.params import GenerationParams
from inference.runtime.weights import ModelUnavailable
from inference.views import FramedViews, align_to_views

#: our model server's answer when the model decoded no surface (``EmptySurface`` here; never retried)
EMPTY_SURFACE_STATUS = 422
#: the header in which `meshmill model-server` names the request's parameters its model does not use
IGNORED_HEADER = "X-Meshmill-Ignored"
#: seconds: to connect, and to wait for a whole generation
CONNECT_TIMEOUT = 10.0
DEFAULT_TIMEOUT = 600.0
DEFAULT_ATTEMPTS = 3


#: the protocol's parameter keys → GenerationParams fields (client and `meshmill model-server` both read this)
PARAMETER_KEYS = {
    "seed": "seed",
    "octree_resolution": "octree_resolution",
    "num_inference_steps": "steps",
    "guidance_scale": "guidance",
    "stage2_steps": "stage2_steps",
    "stage2_guidance_scale": "stage2_guidance",
    "stage3_steps": "stage3_steps",
    "stage3_guidance_scale": "stage3_guidance",
    "pipeline_type": "pipeline_type",
    "face_count": "target_faces",
}


#: a variant that bakes a normal map asks the server for this many faces (the most a request may): the
#: surface the map is baked from; the client decimates to the variant's budget as after any backend
NORMAL_MAP_SOURCE_FACES = 200_000


class RemoteError(RuntimeError):
    """The model server is down, slow, failing or answered something that is not a mesh."""


class ServerUnset(RemoteError, ModelUnavailable):
    """No address is configured for the backend's model server (or its settings are not numbers)."""


def _float_env(name: str, default: float) -> float:
    value = os.environ.get(name)
    try:
        return float(value) if value else default
    except ValueError:
        raise ServerUnset(f"{name}={value!r} is not a number") from None


def request_body(views: FramedViews, params: GenerationParams, texture: bool = False) -> dict:
    """The api_server request for these views and parameters (unset parameters are left out)."""
    pngs = {name: base64.b64encode(encode_png(image)).decode("ascii") for name, image in views.pil_images().items()}
    body = {
        "image": pngs.pop("front"),
        **{key: getattr(params, field) for key, field in PARAMETER_KEYS.items()},
        "texture": texture,
        "type": "glb",
        "mv_images": pngs or None,
    }
    if params.normal_map or params.remesh == "quad":  # both work from the dense surface
        body["face_count"] = max(params.target_faces, NORMAL_MAP_SOURCE_FACES)
    return {k: v for k, v in body.items() if v is not None}


def mesh_from_glb(data: bytes, source: str) -> trimesh.Trimesh:
    if data[:4] != b"glTF":
        preview = data[:60].decode("utf-8", "replace").strip()
        raise RemoteError(f"{source} answered with something that is not a GLB ({len(data)} bytes starting {preview!r})")
    try:
        mesh = trimesh.load(io.BytesIO(data), file_type="glb", force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for a corrupt file
        raise RemoteError(f"{source} answered with a GLB that cannot be read: {exc}") from None
    if len(mesh.faces) == 0:
        raise EmptySurface(f"{source} answered with a GLB that holds no triangles")
    return mesh


class RemoteGenerator:
    def __init__(self, spec: BackendSpec, device: str | None = None):  # the server picks its own device
        self.spec = spec
        self.name = spec.name
        self.accepts_views = spec.views
        url = spec.server_url()
        if not url:
            raise ServerUnset(
                f"backend {spec.name!r} runs on a model server: set {spec.url_env} to its address "
                f"(e.g. http://gpu-box:8081, a server speaking Hunyuan3D-2's api_server protocol)"
            )
        self.url = url.rstrip("/")
        self.version = self.url
        self.timeout = _float_env("MESHMILL_REMOTE_TIMEOUT", DEFAULT_TIMEOUT)
        self.attempts = max(1, int(_float_env("MESHMILL_REMOTE_ATTEMPTS", DEFAULT_ATTEMPTS)))

    def generate(self, views: FramedViews, params: GenerationParams) -> tuple[np.ndarray, np.ndarray]:
        data = self.post(request_body(views, params))
        mesh = mesh_from_glb(data, f"model server {self.url}")
        return align_to_views(np.asarray(mesh.vertices, np.float64), views), np.asarray(mesh.faces, np.int64)

    def generate_textured(self, views: FramedViews, params: GenerationParams) -> trimesh.Trimesh:
        mesh = mesh_from_glb(self.post(request_body(views, params, texture=True)), f"model server {self.url}")
        if not has_texture(mesh):
            raise TextureUnavailable(
                f"model server {self.url} was asked for a textured mesh and answered one without a texture or vertex "
                "colours: serve a model that textures (TRELLIS.2; Hunyuan3D-2's api_server started with --enable_tex)"
            )
        mesh.vertices = align_to_views(np.asarray(mesh.vertices, np.float64), views)
        return mesh

    def post(self, body: dict) -> bytes:
        """POST /generate; retries a server that cannot be reached or answers 5xx/429, never a slow one."""
        endpoint = f"{self.url}/generate"
        timeout = httpx.Timeout(self.timeout, connect=min(CONNECT_TIMEOUT, self.timeout))
        problem = ""
        for attempt in range(1, self.attempts + 1):
            try:
                response = httpx.post(endpoint, json=body, timeout=timeout)
            except httpx.TimeoutException as exc:
                if isinstance(exc, httpx.ConnectTimeout):
                    problem = f"connecting timed out after {timeout.connect:g} s"
                else:  # the server is working on it: sending it again would only queue a second copy
                    raise RemoteError(
                        f"model server {endpoint} did not answer within {self.timeout:g} s (MESHMILL_REMOTE_TIMEOUT)"
                    ) from None
            except httpx.TransportError as exc:
                problem = f"cannot connect ({exc})"
            else:
                if response.status_code == 200:
                    if response.headers.get(IGNORED_HEADER):
                        logging.getLogger(__name__).warning(
                            "model server %s does not use %s: its model's own defaults applied", self.url, response.headers[IGNORED_HEADER]
                        )
                    return response.content
                if response.status_code == EMPTY_SURFACE_STATUS:
                    raise EmptySurface(f"model server {endpoint}: {_error_text(response)}")
                problem = f"HTTP {response.status_code}: {_error_text(response)}"
                if response.status_code < 500 and response.status_code != 429:
                    break  # the server refused this request; asking again gives the same answer
            if attempt < self.attempts:
                time.sleep(min(2.0 ** (attempt - 1), 10.0))
        raise RemoteError(f"model server {endpoint} failed after {attempt} attempt(s): {problem}")


def _error_text(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200].strip() or "(empty body)"
    if isinstance(payload, dict):
        return str(payload.get("text") or payload.get("detail") or payload)[:300]
    return str(payload)[:300]
