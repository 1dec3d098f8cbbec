"""Generation parameters, their ranges, and the polygon-budget presets studios work to."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from inference.backends import BACKEND_FIELDS, BACKENDS, ParamChoice, backend_spec
from inference.images.models import REMOVERS, UPSCALE_FACTORS, UPSCALERS
from inference.mesh.formats import FORMATS, format_names
from inference.mesh.placement import PIVOTS

#: Presets follow common platform budgets for a single prop or character:
#: mobile games keep hero props under ~5k triangles, desktop titles spend ~20k on a prop,
#: "hero" assets (close-ups, key characters) get ~60k and a larger texture. Mobile bakes a normal map by
#: default: at 5k faces most of the surface's detail lives only there.
PRESETS: dict[str, dict[str, Any]] = {
    "mobile": {"target_faces": 5_000, "texture_size": 1024, "normal_map": True},
    "desktop": {"target_faces": 20_000, "texture_size": 2048},
    "hero": {"target_faces": 60_000, "texture_size": 4096},
}
DEFAULT_PRESET = "desktop"
#: how the base-colour texture is encoded in the GLB (docs/benchmarks.md, "Generation speed": time and size of each)
TEXTURE_FORMATS = ("png", "jpeg", "webp")
#: how UV charts are cut (inference.mesh.uv.unwrap; docs/benchmarks.md, "Generation speed": time of each)
UV_MODES = ("xatlas", "box")
#: how the budget surface is made from the dense one (inference.mesh.remesh; docs/how-to/formats.md, "Quad retopology")
REMESH_MODES = ("none", "quad")
#: where the base colour comes from (inference.mesh.transfer; docs/explanation/textures.md)
TEXTURE_SOURCES = ("views", "backend")
#: LOD n has 2⁻ⁿ of the budget's faces (inference.mesh.lod)
MAX_LODS = 4
#: the tallest asset a height may ask for, in metres
MAX_HEIGHT_M = 10_000.0

#: the fields the image stages read; the 3D stages read the rest
IMAGE_STAGE_FIELDS = ("remove_background", "background", "upscale", "upscaler")
#: the choices of the fields that name something from a table
CHOICES: dict[str, tuple[Any, ...]] = {
    "backend": tuple(BACKENDS),
    "preset": tuple(PRESETS),
    "upscale": UPSCALE_FACTORS,
    "upscaler": UPSCALERS,
    "background": REMOVERS,
    "texture_format": TEXTURE_FORMATS,
    "uv_mode": UV_MODES,
    "remesh": REMESH_MODES,
    "texture_source": TEXTURE_SOURCES,
    "pivot": PIVOTS,
}


class ParameterError(ValueError):
    """A generation parameter is out of range or unknown; the message names it and its range."""


class GenerationParams(BaseModel):
    """Every knob of a generation, with its range. Backends read the fields they use.

    ``steps``, ``guidance``, ``octree_resolution``, ``pipeline_type`` and the ``stage2_*`` / ``stage3_*`` fields belong to the backend:
    left unset, they take the backend's default; set, they must be within the backend's range; a
    backend that does not use one refuses it (``inference.backends`` declares them all).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = Field("builtin", description="shape generator, see `meshmill models`")
    preset: str | None = Field(None, description="polygon budget and texture size preset")
    steps: int | None = Field(None, ge=1, le=100, description="sampling / refinement steps; builtin: volume resolution 64 + 4·steps")
    guidance: float | None = Field(None, ge=0.0, le=10.0, description="guidance scale; builtin: roundness of cross-sections")
    octree_resolution: int | None = Field(None, ge=64, le=1024, description="resolution of the decoded volume (Hunyuan, Direct3D-S2)")
    stage2_steps: int | None = Field(None, ge=1, le=100, description="second-stage sampler steps (TRELLIS)")
    stage2_guidance: float | None = Field(None, ge=0.0, le=10.0, description="second-stage guidance (TRELLIS)")
    stage3_steps: int | None = Field(None, ge=1, le=100, description="third-stage (texture latent) sampler steps (TRELLIS.2)")
    stage3_guidance: float | None = Field(None, ge=0.0, le=10.0, description="third-stage (texture latent) guidance (TRELLIS.2)")
    pipeline_type: str | None = Field(
        None, max_length=32, description="the model's resolution mode (TRELLIS.2: 512, 1024, 1024_cascade, 1536_cascade)"
    )
    target_faces: int = Field(20_000, ge=500, le=200_000, description="triangle budget of the output mesh")
    seed: int = Field(
        0, ge=0, le=2**31 - 1, description="seed of the backend's sampler; the same seed gives the same mesh (builtin has no random stage)"
    )
    texture_size: int = Field(2048, ge=512, le=4096, description="base-colour texture edge in pixels")
    texture_format: str = Field(
        "jpeg",
        description="base-colour encoding: jpeg (quality 90: 49–51 dB from the lossless texture, ~10× faster to encode "
        "and ~6× smaller than png), png (lossless) or webp (EXT_texture_webp: smallest, slowest to encode); "
        "normal maps stay lossless",
    )
    uv_mode: str = Field(
        "xatlas",
        description="UV charts: xatlas (grown over the surface, fewer seams) or box (cut by box projection, "
        "packed by xatlas: 2.5–8× faster UVs at 20k–60k faces, more seams)",
    )
    normal_map: bool = Field(
        False, description="bake a tangent-space normal map from the dense surface onto the budget mesh (on for the mobile preset)"
    )
    keep_lighting: bool = Field(
        False,
        description="keep the light the views were drawn under in the base colour (default: estimate it from the "
        "surface normals and divide it out, so that an engine does not light the asset twice)",
    )
    texture_source: str = Field(
        "views",
        description="where the texture comes from: views (baked from the input views, the unseen surface filled from the "
        "seen) or backend (the backend's own textured surface — base colour, and metallic-roughness and normal maps where "
        "it gives them — transferred onto the budget mesh; a model server asked for a textured mesh, Hunyuan3D-Paint)",
    )
    lods: int = Field(
        0,
        ge=0,
        le=MAX_LODS,
        description="extra levels of detail after the budget mesh, each with half the faces of the one before, "
        "sharing its texture atlas (MSFT_lod in the GLB, one OBJ per level)",
    )
    remesh: str = Field(
        "none",
        description="budget surface: none (decimated triangles) or quad (quad retopology of the dense surface with "
        "Instant Meshes; the OBJ keeps the quads, the GLB stores them as two triangles each)",
    )
    formats: tuple[str, ...] = Field(
        ("glb",),
        description="the files each output is written as, comma-separated: "
        + ", ".join(FORMATS)
        + " (the GLB always; fbx needs Blender, usdz and usdc usd-core)",
    )
    height: float | None = Field(
        None,
        gt=0.0,
        le=MAX_HEIGHT_M,
        description="the asset's height in metres (default: as framed, its longest side 1.8 m); GLB, OBJ and USD are in metres, +Y up",
    )
    pivot: str = Field(
        "base", description="where the origin is: base (the bottom centre: it stands on y = 0) or centre (the middle of its box)"
    )
    upscale: int = Field(1, description="upscale the cut-out views before texturing")
    upscaler: str = Field("builtin", description="upscaler: builtin (Lanczos + unsharp mask) or a learned one from the models folder")
    remove_background: bool = Field(True, description="cut the object out (an image's own meaningful alpha is kept)")
    background: str = Field("builtin", description="background remover: builtin or a rembg ONNX model from the models folder")

    @field_validator("preset", "upscale", "upscaler", "background", "texture_format", "uv_mode", "remesh", "texture_source", "pivot")
    @classmethod
    def _known_choice(cls, value: Any, info: ValidationInfo) -> Any:
        choices = CHOICES[info.field_name]
        if value is not None and value not in choices:
            named = (
                f"{info.field_name}={value!r} is not supported"
                if isinstance(value, int)
                else (f"{'background remover' if info.field_name == 'background' else info.field_name} {value!r} is unknown")
            )
            raise ValueError(f"{named}: choose one of {', '.join(map(str, choices))}")
        return value

    @field_validator("formats", mode="before")
    @classmethod
    def _known_formats(cls, value: Any) -> tuple[str, ...]:
        return tuple(dict.fromkeys(["glb", *format_names(value)]))  # the GLB first (previews and checks read it), each once

    @model_validator(mode="before")
    @classmethod
    def _backend_defaults(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        spec = backend_spec(values.get("backend") or "builtin")
        values = dict(values)
        if values.get("texture_source") == "backend" and not spec.textures:
            raise ValueError(
                f"backend {spec.name!r} makes no texture of its own, so texture_source 'backend' has nothing to carry over: "
                f"use 'views', or a backend that textures ({', '.join(name for name, s in BACKENDS.items() if s.textures)})"
            )
        for name in BACKEND_FIELDS:
            given = values.get(name)
            declared = spec.params.get(name)
            if declared is None:
                if given is not None:
                    raise ValueError(f"backend {spec.name!r} does not use {name} (it uses {', '.join(spec.params) or 'none of them'})")
                continue
            if given is None:
                values[name] = declared.default
            elif isinstance(declared, ParamChoice):
                if given not in declared.choices:
                    raise ValueError(
                        f"{name}={given!r} is not a mode of backend {spec.name!r}: choose one of {', '.join(declared.choices)}"
                    )
            elif isinstance(given, bool) or not isinstance(given, int | float):
                raise ValueError(f"{name}={given!r} is not a number (backend {spec.name!r}: {declared.low:g}–{declared.high:g})")
            elif not declared.low <= given <= declared.high:
                raise ValueError(f"{name}={given!r} is out of range for backend {spec.name!r} ({declared.low:g}–{declared.high:g})")
        return values

    @classmethod
    def resolve(cls, preset: str | None = None, **overrides: Any) -> GenerationParams:
        """Preset values, then explicit overrides (``None`` means 'not given'); validates ranges."""
        values: dict[str, Any] = {}
        if preset is not None:
            if preset not in PRESETS:
                raise ParameterError(f"preset {preset!r} is unknown: choose one of {', '.join(PRESETS)}")
            values.update(PRESETS[preset], preset=preset)
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ParameterError(_explain(exc)) from None

    def image_settings(self) -> dict[str, Any]:
        """The settings of the image stages (cut-out and upscale), which every variant of an image shares."""
        return {name: getattr(self, name) for name in IMAGE_STAGE_FIELDS}

    def replace(self, **changes: Any) -> GenerationParams:
        """A copy with ``changes``, validated like any other parameters."""
        try:
            return type(self)(**{**self.model_dump(), **changes})
        except ValidationError as exc:
            raise ParameterError(_explain(exc)) from None


def knob_help(name: str) -> str:
    """A parameter's help, as the CLI and the Dagster config show it: what it does, its choices or range, its default.

    ``steps``, ``guidance``, ``octree_resolution``, ``pipeline_type``, ``stage2_*`` and ``stage3_*`` have a default and range per backend.
    """
    field = GenerationParams.model_fields[name]
    text = field.description or name
    if name == "preset":
        budgets = (f"{p} ({v['target_faces']:,} faces, {v['texture_size']}² texture)" for p, v in PRESETS.items())
        return f"{text}: {', '.join(budgets)} (default {DEFAULT_PRESET})"
    if name in CHOICES:
        text += f"; one of {', '.join(map(str, CHOICES[name]))}"
    elif name in BACKEND_FIELDS:
        return f"{text}; default and {'choices' if name == 'pipeline_type' else 'range'} per backend (`meshmill models`)"
    else:
        low, high = _bounds(field)
        if low is not None and high is not None:
            text += f"; {low:,}–{high:,}"
    if field.default is not None:
        text += f" (default {field.default})"
    return text


def _bounds(field: Any) -> tuple[Any, Any]:
    low = next((m.ge for m in field.metadata if hasattr(m, "ge")), None)
    high = next((m.le for m in field.metadata if hasattr(m, "le")), None)
    return low, high


def _explain(exc: ValidationError) -> str:
    messages = []
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"]) or "parameters"
        field = GenerationParams.model_fields.get(name)
        bounds = ""
        if field is not None:
            lo, hi = _bounds(field)
            if lo is not None and hi is not None:
                bounds = f" (range {lo}–{hi})"
        if error["type"] == "value_error":  # our own checks word their whole message
            messages.append(str(error["ctx"]["error"]))
            continue
        given = error.get("input")
        messages.append(f"{name}={given!r}: {error['msg'].lower()}{bounds}")
    return "; ".join(messages)
