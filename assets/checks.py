"""Checks on every textured GLB, reported with its partition's materialisation and shown in the Dagster UI."""

from __future__ import annotations

import dagster as dg

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
    from inference.mesh.audit import audit_glb  # trimesh: loaded where a step runs, not where runs are planned
    from inference.mesh.cleanup import FACE_TOLERANCE

    def result(name: str, passed: bool, metadata: dict) -> dg.AssetCheckEvaluation:
        return dg.AssetCheckEvaluation(asset_key=TEXTURED, check_name=name, passed=bool(passed), metadata=metadata, partition=partition)

    try:
        audit = audit_glb(glb)  # the file as stored, read raw: trimesh's loader would re-normalise its normals
    except Exception as exc:  # a GLB that does not even parse fails every check
        return [result(spec.name, False, {"error": str(exc)}) for spec in TEXTURED_CHECKS]
    faces, vertices, problems = audit.faces, audit.vertices, audit.problems
    deviation = abs(faces - target_faces) / target_faces
    return [
        result(
            "valid_gltf",
            audit.has_uv and audit.has_texture and not problems and faces > 0,
            {"has_uv": audit.has_uv, "has_texture": audit.has_texture, "problems": "; ".join(problems) or "none"},
        ),
        result("face_budget", deviation <= FACE_TOLERANCE, {"faces": faces, "target": target_faces, "deviation": float(deviation)}),
        result("non_empty", faces > 0 and vertices > 0, {"faces": faces, "vertices": vertices}),
    ]
