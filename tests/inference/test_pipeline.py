"""Image → textured GLB, end to end, checked by the real glTF-Validator and Blender."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image
from pygltflib import GLTF2

from inference.mesh.export import write_obj
from inference.params import GenerationParams
from inference.pipeline import generate_asset
from inference.quality.evaluation import obj_texture, surface_scores, write_reference
from inference.quality.render import render_views
from inference.views import VIEW_NAMES, ViewError
from tests.support import SAMPLES
from tests.support.clients import blender_import, validate_gltf

MOBILE = GenerationParams.resolve("mobile", texture_size=512)


@pytest.fixture(scope="module")
def duck_views(tmp_path_factory) -> dict[str, Image.Image]:
    """The pybullet duck, rendered in our four views (a real, textured object nobody here made)."""
    import pybullet_data

    data = Path(pybullet_data.getDataPath())
    folder = tmp_path_factory.mktemp("duck")
    obj = write_reference("duck", data / "duck.obj", data / "duckCM.png", "y", 90, folder)
    renders = render_views(obj, VIEW_NAMES, size=384, half_extent=1.3, texture=obj_texture(obj))
    return {"obj": obj, **{name: Image.fromarray(r, "RGBA") for name, r in renders.items()}}


@pytest.fixture(scope="module")
def duck_single(tmp_path_factory):
    asset = generate_asset({"front": Image.open(SAMPLES / "duck.png")}, MOBILE, name="duck")
    path = tmp_path_factory.mktemp("out") / "duck.glb"
    path.write_bytes(asset.glb)
    return asset, path


def test_single_image_gives_a_valid_textured_glb_within_budget(duck_single):
    asset, path = duck_single
    assert abs(asset.faces - 5_000) <= 250
    (report,) = validate_gltf(path)
    assert (report["errors"], report["warnings"]) == (0, 0), report["messages"]
    loaded = trimesh.load(path, force="mesh")
    assert len(loaded.faces) == asset.faces
    assert loaded.visual.uv is not None and loaded.visual.uv.shape == (len(loaded.vertices), 2)
    material = loaded.visual.material
    assert material.baseColorTexture.size == (512, 512)
    assert material.metallicFactor == 0.0 and 0.5 <= material.roughnessFactor <= 1.0
    normals = trimesh.load(path, force="mesh", process=False).vertex_normals
    assert np.allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    assert asset.watertight
    assert set(asset.timings) >= {"preprocess", "shape", "cleanup", "uv", "texture", "export", "total"}


def test_blender_imports_the_glb_with_material_and_image(duck_single):
    _, path = duck_single
    report = blender_import(path)
    assert report["meshes"] == 1 and report["faces"] >= 4_750
    assert report["materials"] == ["duck_material"]
    assert report["images"] and report["images"][0][1] == [512, 512]
    assert report["uv_layers"] == [1] and report["base_color_from"] == "TEX_IMAGE"
    assert report["metallic"] == 0.0


def test_obj_export_writes_obj_mtl_and_texture(duck_single, tmp_path):
    asset, _ = duck_single
    paths = write_obj(asset.mesh, tmp_path, "duck")
    # the base colour as the variant encodes it (JPEG by default), the normal map (mobile has one) lossless
    assert sorted(p.name for p in paths) == ["duck.mtl", "duck.obj", "duck_material.jpeg", "duck_normal.png"]
    reloaded = trimesh.load(tmp_path / "duck.obj", force="mesh")
    assert len(reloaded.faces) == asset.faces and reloaded.visual.material.image is not None


def test_the_texture_reproduces_the_front_view_and_its_base_colour_is_de_lit(duck_views, tmp_path):
    """The reference is rendered lit. Kept as drawn (--keep-lighting), the texture reproduces it re-rendered
    unlit. De-lit (the default), the light's direction is gone from the base colour: against the duck's own
    albedo, the de-lit texture's brightness varies far less over the surface than the kept one's, at the same
    mean brightness (the exposure keeps the picture's mean)."""
    from inference.quality.evaluation import _align_to, masked_psnr

    truth = trimesh.load(duck_views["obj"], force="mesh")
    reference = np.asarray(duck_views["front"])
    albedo = render_views(duck_views["obj"], ("front",), size=384, half_extent=1.3, lit=False, texture=obj_texture(duck_views["obj"]))
    albedo = albedo["front"]

    def unlit(params: GenerationParams, name: str) -> np.ndarray:
        asset = generate_asset({"front": duck_views["front"]}, params, name=name)
        out = write_obj(_align_to(asset.mesh, truth), tmp_path / name, name)[0]
        return render_views(out, ("front",), size=384, half_extent=1.3, lit=False, texture=obj_texture(out))["front"]

    kept, delit = unlit(MOBILE.replace(keep_lighting=True), "kept"), unlit(MOBILE, "delit")
    as_drawn = masked_psnr(kept, reference, (reference[..., 3] > 0) & (kept[..., 3] > 0))
    assert as_drawn > 28, f"front-view PSNR {as_drawn:.1f} dB"
    both = (albedo[..., 3] > 0) & (kept[..., 3] > 0) & (delit[..., 3] > 0) & (albedo[..., :3].sum(-1) > 90)

    def light_left(texture: np.ndarray) -> tuple[float, float]:
        ratio = np.log(texture[..., :3].sum(-1)[both] + 1.0) - np.log(albedo[..., :3].sum(-1)[both] + 1.0)
        return float(np.std(ratio)), float(np.mean(ratio))

    (kept_spread, kept_level), (delit_spread, delit_level) = light_left(kept), light_left(delit)
    assert delit_spread < 0.7 * kept_spread, (delit_spread, kept_spread)
    assert abs(delit_level - kept_level) < 0.05, (delit_level, kept_level)


def test_four_views_beat_the_visual_hull_and_the_single_view(duck_views):
    truth = trimesh.load(duck_views["obj"], force="mesh")
    views = {name: duck_views[name] for name in VIEW_NAMES}
    four = generate_asset(views, MOBILE)
    hull = generate_asset(views, MOBILE.model_copy(update={"guidance": 0.0}))
    single = generate_asset({"front": duck_views["front"]}, MOBILE)
    f_four, f_hull, f_single = (surface_scores(a.mesh, truth)["f@0.1"] for a in (four, hull, single))
    assert f_four > f_hull and f_four > f_single and f_four > 0.9


def test_views_of_different_sizes_are_rescaled_with_a_warning(duck_views):
    left = duck_views["left"].resize((576, 576))
    asset = generate_asset({"front": duck_views["front"], "left": left}, MOBILE)
    assert any("left view" in w and "rescaled to a common height" in w for w in asset.warnings)
    assert abs(asset.faces - 5_000) <= 250


def test_a_contradicting_view_is_left_out_with_a_warning(duck_views):
    wrong_back = Image.open(SAMPLES / "soccer_ball.png")
    asset = generate_asset({"front": duck_views["front"], "back": wrong_back}, MOBILE)
    assert any("back view contradicts the front view" in w for w in asset.warnings)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (Image.new("RGBA", (64, 64), (255, 0, 0, 0)), "front view: the image is fully transparent"),
        (Image.new("RGB", (1, 1), (255, 0, 0)), "front view: image is 1×1; at least 32×32 pixels are needed"),
        (Image.new("RGB", (128, 128), (230, 230, 235)), "front view: no object found"),
    ],
)
def test_unusable_images_fail_with_a_clear_message(image, message):
    with pytest.raises(ViewError, match=message):
        generate_asset({"front": image}, MOBILE)


@pytest.mark.parametrize(("texture_format", "mime"), [("png", "image/png"), ("jpeg", "image/jpeg"), ("webp", "image/webp")])
def test_a_variant_can_encode_its_texture_as_png_jpeg_or_webp(texture_format, mime, tmp_path):
    """The texture is stored in the chosen format (WebP declared as EXT_texture_webp), the GLB stays valid,
    and the OBJ export still writes its texture. Mobile's normal map stays lossless: PNG beside a JPEG (JPEG's
    blocks would show as dents) or a PNG, WebP in a WebP file."""
    params = MOBILE.replace(texture_format=texture_format)
    asset = generate_asset({"front": Image.open(SAMPLES / "duck.png")}, params, name="duck")
    path = tmp_path / "duck.glb"
    path.write_bytes(asset.glb)
    (report,) = validate_gltf(path)
    assert (report["errors"], report["warnings"]) == (0, 0), report["messages"]
    gltf = GLTF2.load_from_bytes(asset.glb)
    assert [image.mimeType for image in gltf.images] == [mime, "image/webp" if texture_format == "webp" else "image/png"]
    assert (gltf.extensionsUsed or []) == (["EXT_texture_webp"] if texture_format == "webp" else [])
    assert trimesh.load(path, force="mesh").visual.material.baseColorTexture.size == (512, 512)
    paths = write_obj(asset.mesh, tmp_path / "obj", "duck")
    assert len(paths) == 4 and trimesh.load(tmp_path / "obj" / "duck.obj", force="mesh").visual.material.image is not None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here; run on the GPU machine")
def test_on_cuda_the_same_image_gives_the_same_asset_every_run():
    """Every sum on the GPU is added in a fixed order (``inference.runtime.ordered_sum``): a re-materialised asset is the
    one made before, mesh and texture, not a near copy (with atomic adds the decimation's near-ties fell either way)."""
    params = GenerationParams.resolve("desktop")
    first, again = (generate_asset({"front": Image.open(SAMPLES / "duck.png")}, params, device="cuda") for _ in range(2))
    assert np.array_equal(first.mesh.vertices, again.mesh.vertices) and np.array_equal(first.mesh.faces, again.mesh.faces)
    assert first.glb == again.glb
