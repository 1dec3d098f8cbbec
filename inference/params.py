"""Generation parameters, their ranges, and the polygon-budget presets studios work to."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

#: Presets follow common platform budgets for a single prop or character:
#: mobile games keep hero props under ~5k triangles, desktop titles spend ~20k on a prop,
#: "hero" assets (close-ups, key characters) get ~60k and a larger texture.
PRESETS: dict[str, dict[str, Any]] = {
    "mobile": {"target_faces": 5_000, "texture_size": 1024},
    "desktop": {"target_faces": 20_000, "texture_size": 2048},
    "hero": {"target_faces": 60_000, "texture_size": 4096},
}
DEFAULT_PRESET = "desktop"


class ParameterError(ValueError):
    """A generation parameter is out of range or unknown; the message names it and its range."""


class GenerationParams(BaseModel):
    """Every knob of a generation, with its range. Backends read the fields they use.

    ``steps``, ``guidance``, ``octree_resolution`` and the ``stage2_*`` fields belong to the backend:
    left unset, they take the backend's default; set, they must be within the backend's range; a
    backend that does not use one refuses it (``inference.backends`` declares them all).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = Field("builtin", description="shape generator, see `meshmill models`")
    preset: Literal["mobile", "desktop", "hero"] | None = Field(None, description="polygon budget preset")
    steps: int | None = Field(None, ge=1, le=100, description="sampling / refinement steps; builtin: volume resolution 64 + 4·steps")
    guidance: float | None = Field(None, ge=0.0, le=10.0, description="guidance scale; builtin: roundness of cross-sections")
    octree_resolution: int | None = Field(None, ge=64, le=1024, description="resolution of the decoded volume (Hunyuan, Direct3D-S2)")
    stage2_steps: int | None = Field(None, ge=1, le=100, description="second-stage sampler steps (TRELLIS)")
    stage2_guidance: float | None = Field(None, ge=0.0, le=10.0, description="second-stage guidance (TRELLIS)")
    target_faces: int = Field(20_000, ge=500, le=200_000, description="triangle budget of the output mesh")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="random seed; the same seed gives the same mesh")
    texture_size: int = Field(2048, ge=512, le=4096, description="base-colour texture edge in pixels")
    upscale: Literal[1, 2, 4] = Field(1, description="upscale the input views before texturing")
    upscaler: str = Field("builtin", description="builtin, realesrgan-x4, realesrgan-x2, realesrgan-anime-x4 or sd-x4")
    remove_background: bool = Field(True, description="cut the object out when the image has no alpha")
    background: str = Field("builtin", description="background remover: builtin or a rembg model (u2net, isnet-general-use, birefnet-general, …)")

    @field_validator("upscaler", "background")
    @classmethod
    def _known_image_model(cls, value: str, info: ValidationInfo) -> str:
        from inference.background import REMOVERS
        from inference.upscale import UPSCALERS

        choices, what = (UPSCALERS, "upscaler") if info.field_name == "upscaler" else (REMOVERS, "background remover")
        if value not in choices:
            raise ValueError(f"{what} {value!r} is unknown: choose one of {', '.join(choices)}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _backend_defaults(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        from inference.backends import BACKEND_FIELDS, backend_spec

        spec = backend_spec(values.get("backend") or "builtin")
        values = dict(values)
        for name in BACKEND_FIELDS:
            given = values.get(name)
            declared = spec.params.get(name)
            if declared is None:
                if given is not None:
                    raise ValueError(f"backend {spec.name!r} does not use {name} (it uses {', '.join(spec.params) or 'none of them'})")
                continue
            if given is None:
                values[name] = declared.default
            elif not declared.low <= given <= declared.high:
                raise ValueError(f"{name}={given!r} is out of range for backend {spec.name!r} ({declared.low:g}–{declared.high:g})")
        return values

    @classmethod
    def resolve(cls, preset: str | None = None, **overrides: Any) -> "GenerationParams":
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


def _explain(exc: ValidationError) -> str:
    messages = []
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"]) or "parameters"
        field = GenerationParams.model_fields.get(name)
        bounds = ""
        if field is not None:
            lo = next((m.ge for m in field.metadata if hasattr(m, "ge")), None)
            hi = next((m.le for m in field.metadata if hasattr(m, "le")), None)
            if lo is not None and hi is not None:
                bounds = f" (range {lo}–{hi})"
        if error["type"] == "value_error":  # our own checks word their whole message
            messages.append(str(error["ctx"]["error"]))
            continue
        given = error.get("input")
        messages.append(f"{name}={given!r}: {error['msg'].lower()}{bounds}")
    return "; ".join(messages)
