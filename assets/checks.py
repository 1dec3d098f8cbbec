"""Checks on every textured GLB, reported with its materialisation and shown in the Dagster UI."""

from __future__ import annotations

import io

import dagster as dg
import numpy as np
import trimesh

from inference.mesh.cleanup import FACE_TOLERANCE

TEXTURED_CHECKS = [
    dg.AssetCheckSpec("valid_gltf", asset="textured_glb", description="Loads as glTF with UVs, a base-colour texture and unit normals."),
    dg.AssetCheckSpec("face_budget", asset="textured_glb", description="Face count within ±5 % of the variant's target."),
    dg.AssetCheckSpec("non_empty", asset="textured_glb", description="The mesh has faces and vertices."),
]


def check_glb(glb: bytes, target_faces: int) -> list[dg.AssetCheckResult]:
    try:
        loaded = trimesh.load(io.BytesIO(glb), file_type="glb", force="mesh", process=False)
    except Exception as exc:  # a GLB that does not even parse fails every check
        failed = {"error": str(exc)}
        return [dg.AssetCheckResult(check_name=n, passed=False, metadata=failed) for n in ("valid_gltf", "face_budget", "non_empty")]
    faces, vertices = len(loaded.faces), len(loaded.vertices)
    uv = getattr(loaded.visual, "uv", None)
    texture = getattr(getattr(loaded.visual, "material", None), "baseColorTexture", None)
    lengths = np.linalg.norm(loaded.vertex_normals, axis=1) if vertices else np.zeros(0)
    unit = bool(len(lengths) and np.allclose(lengths, 1.0, atol=1e-4))
    has_uv = uv is not None and len(uv) == vertices
    deviation = abs(faces - target_faces) / target_faces
    return [
        dg.AssetCheckResult(
            check_name="valid_gltf",
            passed=bool(has_uv and texture is not None and unit),
            metadata={"has_uv": bool(has_uv), "has_texture": texture is not None, "unit_normals": unit},
        ),
        dg.AssetCheckResult(
            check_name="face_budget",
            passed=deviation <= FACE_TOLERANCE,
            metadata={"faces": faces, "target": target_faces, "deviation": float(deviation)},
        ),
        dg.AssetCheckResult(check_name="non_empty", passed=faces > 0 and vertices > 0, metadata={"faces": faces, "vertices": vertices}),
    ]
