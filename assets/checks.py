"""Checks on every textured GLB, reported with its partition's materialisation and shown in the Dagster UI."""

from __future__ import annotations

import io

import dagster as dg
import trimesh

from inference.mesh.audit import glb_problems
from inference.mesh.cleanup import FACE_TOLERANCE

TEXTURED = dg.AssetKey("textured_glb")
TEXTURED_CHECKS = [
    dg.AssetCheckSpec(
        "valid_gltf",
        asset=TEXTURED,
        description="Loads as glTF with UVs and a base-colour texture; stores finite positions, unit normals, UVs in [0, 1], "
        "no degenerate or repeated triangle.",
    ),
    dg.AssetCheckSpec("face_budget", asset=TEXTURED, description="Face count within ±5 % of the variant's target."),
    dg.AssetCheckSpec("non_empty", asset=TEXTURED, description="The mesh has faces and vertices."),
]


def glb_check_evaluations(glb: bytes, target_faces: int, partition: str) -> list[dg.AssetCheckEvaluation]:
    """The three checks of one partition's GLB."""

    def result(name: str, passed: bool, metadata: dict) -> dg.AssetCheckEvaluation:
        return dg.AssetCheckEvaluation(asset_key=TEXTURED, check_name=name, passed=bool(passed), metadata=metadata, partition=partition)

    try:
        loaded = trimesh.load(io.BytesIO(glb), file_type="glb", force="mesh", process=False)
    except Exception as exc:  # a GLB that does not even parse fails every check
        return [result(spec.name, False, {"error": str(exc)}) for spec in TEXTURED_CHECKS]
    faces, vertices = len(loaded.faces), len(loaded.vertices)
    uv = getattr(loaded.visual, "uv", None)
    texture = getattr(getattr(loaded.visual, "material", None), "baseColorTexture", None)
    problems = glb_problems(glb)  # read raw: trimesh's loader re-normalises what the file stores
    has_uv = uv is not None and len(uv) == vertices
    deviation = abs(faces - target_faces) / target_faces
    return [
        result(
            "valid_gltf",
            has_uv and texture is not None and not problems and faces > 0,
            {"has_uv": bool(has_uv), "has_texture": texture is not None, "problems": "; ".join(problems) or "none"},
        ),
        result("face_budget", deviation <= FACE_TOLERANCE, {"faces": faces, "target": target_faces, "deviation": float(deviation)}),
        result("non_empty", faces > 0 and vertices > 0, {"faces": faces, "vertices": vertices}),
    ]
