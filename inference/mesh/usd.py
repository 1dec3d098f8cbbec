"""The finished mesh as USD (``.usdc`` beside its textures, or one ``.usdz`` package), written with Pixar's usd-core.

The stage is what Unreal, Omniverse, Houdini and Apple's AR Quick Look read: ``upAxis`` Y and ``metersPerUnit`` 1
(Meshmill's frame: glTF's, in metres), one default prim (a component model) holding the mesh and its material.
The material is a ``UsdPreviewSurface`` fed by the same textures the GLB carries: base colour (sRGB), the
tangent-space normal map (raw, scaled and biased from 0–1 to −1–1) and the metallic-roughness map (raw: roughness
from green, metallic from blue, glTF's channels) where the mesh has them, else the material's constant metallic and
roughness. Textures are PNG, whatever the GLB's encoding (a USDZ package may hold PNG or JPEG only). Levels of detail
are not written: USD has no LOD schema that the engines read.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import trimesh
    from PIL import Image

#: what the writer needs, as the refusal names it
REQUIREMENT = "usd-core (pip install 'meshmill[formats]')"


class UsdUnavailable(RuntimeError):
    """usd-core is not installed here."""


def _pxr():  # noqa: ANN202
    try:
        from pxr import Gf, Kind, Sdf, Tf, Usd, UsdGeom, UsdShade, UsdUtils, Vt
    except ImportError:
        raise UsdUnavailable(f"writing USD needs {REQUIREMENT}") from None
    return Gf, Kind, Sdf, Tf, Usd, UsdGeom, UsdShade, UsdUtils, Vt


def check_usd() -> None:
    """Raises ``UsdUnavailable`` where usd-core is not installed."""
    _pxr()


def _png(image: Image.Image) -> bytes:
    """The texture as PNG (lossless, and one of the two formats a USDZ may hold), at the GLB's zlib level."""
    from inference.mesh.export import PNG_LEVEL  # deferred with the writer: export imports trimesh

    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", compress_level=PNG_LEVEL)
    return buffer.getvalue()


def write_stage(mesh: trimesh.Trimesh, folder: Path, stem: str) -> Path:
    """Write ``folder/stem.usdc`` and its textures beside it (``stem_basecolor.png``, ``stem_normal.png``, …); returns the layer's path."""
    Gf, Kind, Sdf, Tf, Usd, UsdGeom, UsdShade, _, Vt = _pxr()
    name = Tf.MakeValidIdentifier(stem)
    path = folder / f"{stem}.usdc"
    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    root = UsdGeom.Xform.Define(stage, f"/{name}")
    stage.SetDefaultPrim(root.GetPrim())
    Usd.ModelAPI(root.GetPrim()).SetKind(Kind.Tokens.component)

    geometry = UsdGeom.Mesh.Define(stage, root.GetPath().AppendChild(f"{name}_mesh"))
    geometry.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    geometry.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(np.asarray(mesh.vertices, np.float32)))
    geometry.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(mesh.faces), 3, np.int32)))
    geometry.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(np.asarray(mesh.faces, np.int32).ravel()))
    geometry.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(np.asarray(mesh.vertex_normals, np.float32)))
    geometry.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
    lo, hi = mesh.bounds
    geometry.CreateExtentAttr(Vt.Vec3fArray([Gf.Vec3f(*map(float, lo)), Gf.Vec3f(*map(float, hi))]))

    material = getattr(mesh.visual, "material", None)
    uv = getattr(mesh.visual, "uv", None)
    if material is None or uv is None:
        stage.GetRootLayer().Save()
        return path
    primvars = UsdGeom.PrimvarsAPI(geometry.GetPrim())
    st = primvars.CreatePrimvar("st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex)
    st.Set(Vt.Vec2fArray.FromNumpy(np.asarray(uv, np.float32)))  # trimesh's UVs start bottom left, as USD's do

    looks = root.GetPath().AppendChild("materials")
    surface_material = UsdShade.Material.Define(stage, looks.AppendChild(f"{name}_material"))
    surface = UsdShade.Shader.Define(stage, surface_material.GetPath().AppendChild("surface"))
    surface.CreateIdAttr("UsdPreviewSurface")
    surface_material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
    reader = UsdShade.Shader.Define(stage, surface_material.GetPath().AppendChild("st_reader"))
    reader.CreateIdAttr("UsdPrimvarReader_float2")
    reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set("st")
    reader_output = reader.CreateOutput("result", Sdf.ValueTypeNames.Float2)

    def texture(image: Image.Image, role: str, colour_space: str) -> UsdShade.Shader:
        relative = f"{stem}_{role}.png"  # beside the layer: the USDZ packager moves a subfolder's files and warns
        (folder / relative).write_bytes(_png(image))
        shader = UsdShade.Shader.Define(stage, surface_material.GetPath().AppendChild(f"{role}_texture"))
        shader.CreateIdAttr("UsdUVTexture")
        shader.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(Sdf.AssetPath(relative))
        shader.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(reader_output)
        shader.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set(colour_space)
        shader.CreateInput("wrapS", Sdf.ValueTypeNames.Token).Set("repeat")
        shader.CreateInput("wrapT", Sdf.ValueTypeNames.Token).Set("repeat")
        return shader

    if material.baseColorTexture is not None:
        base = texture(material.baseColorTexture, "basecolor", "sRGB")
        colour = base.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
        surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).ConnectToSource(colour)
    if material.normalTexture is not None:
        bumps = texture(material.normalTexture, "normal", "raw")
        bumps.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(2.0, 2.0, 2.0, 1.0))
        bumps.CreateInput("bias", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(-1.0, -1.0, -1.0, 0.0))
        surface.CreateInput("normal", Sdf.ValueTypeNames.Normal3f).ConnectToSource(bumps.CreateOutput("rgb", Sdf.ValueTypeNames.Float3))
    if material.metallicRoughnessTexture is not None:
        maps = texture(material.metallicRoughnessTexture, "metallic_roughness", "raw")
        surface.CreateInput("roughness", Sdf.ValueTypeNames.Float).ConnectToSource(maps.CreateOutput("g", Sdf.ValueTypeNames.Float))
        surface.CreateInput("metallic", Sdf.ValueTypeNames.Float).ConnectToSource(maps.CreateOutput("b", Sdf.ValueTypeNames.Float))
    else:
        surface.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(float(material.metallicFactor or 0.0))
        roughness = material.roughnessFactor
        surface.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(float(1.0 if roughness is None else roughness))
    UsdShade.MaterialBindingAPI.Apply(geometry.GetPrim()).Bind(surface_material)
    stage.GetRootLayer().Save()
    return path


def usdc_files(mesh: trimesh.Trimesh, stem: str) -> dict[str, bytes]:
    """``{file name: bytes}``: ``stem.usdc`` and its textures, ``stem_<role>.png``."""
    with tempfile.TemporaryDirectory(prefix="meshmill-usd-") as tmp:
        folder = Path(tmp)
        write_stage(mesh, folder, stem)
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def usdz_bytes(mesh: trimesh.Trimesh, stem: str) -> bytes:
    """One ``.usdz`` package: the stage and its textures, as Apple's AR Quick Look and Unreal read it."""
    Sdf = _pxr()[2]
    with tempfile.TemporaryDirectory(prefix="meshmill-usdz-") as tmp:
        folder = Path(tmp) / "stage"
        folder.mkdir()
        layer = write_stage(mesh, folder, stem)
        package = Path(tmp) / f"{stem}.usdz"
        # written as it is (the layer first, its textures at the root, where it names them): usd-core's packager would
        # localise the textures into a numbered folder and warn that it cannot resolve what it just moved
        writer = Sdf.ZipFileWriter.CreateNew(str(package))
        writer.AddFile(str(layer), layer.name)
        for texture in sorted(folder.iterdir()):
            if texture != layer:
                writer.AddFile(str(texture), texture.name)
        writer.Save()
        return package.read_bytes()
