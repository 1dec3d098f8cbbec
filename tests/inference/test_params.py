import pytest

from inference.params import PRESETS, GenerationParams, ParameterError


def test_presets_follow_platform_budgets():
    assert PRESETS["mobile"]["target_faces"] <= 5_000
    assert PRESETS["desktop"]["target_faces"] == 20_000
    assert PRESETS["hero"]["target_faces"] == 60_000
    params = GenerationParams.resolve("mobile", seed=7, target_faces=None)
    assert (params.preset, params.target_faces, params.texture_size, params.seed) == ("mobile", 5_000, 1024, 7)
    assert GenerationParams.resolve("hero", target_faces=40_000).target_faces == 40_000  # explicit beats preset


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"steps": 0}, "steps=0 is out of range for backend 'builtin' (1–100)"),
        ({"steps": 101}, "(1–100)"),
        ({"guidance": 10.5}, "guidance=10.5 is out of range for backend 'builtin' (0–10)"),
        ({"target_faces": 499}, "target_faces=499"),
        ({"target_faces": 200_001}, "(range 500–200000)"),
        ({"texture_size": 8192}, "(range 512–4096)"),
        ({"upscale": 3}, "upscale=3"),
        ({"colour": "red"}, "colour='red': extra inputs are not permitted"),
    ],
)
def test_out_of_range_values_name_the_parameter_and_its_range(overrides, message):
    with pytest.raises(ParameterError) as caught:
        GenerationParams.resolve(**overrides)
    assert message in str(caught.value)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ParameterError, match="preset 'console' is unknown: choose one of mobile, desktop, hero"):
        GenerationParams.resolve("console")


def test_each_backend_fills_its_own_defaults():
    assert (GenerationParams().steps, GenerationParams().guidance) == (30, 5.0)
    hunyuan = GenerationParams(backend="hunyuan3d-2")
    assert (hunyuan.steps, hunyuan.guidance, hunyuan.octree_resolution) == (30, 5.0, 256)
    assert GenerationParams(backend="hunyuan3d-2mini-turbo").steps == 5
    trellis = GenerationParams(backend="trellis")
    assert (trellis.steps, trellis.guidance, trellis.stage2_steps, trellis.stage2_guidance) == (12, 7.5, 12, 3.0)
    assert GenerationParams(backend="trellis", steps=20).steps == 20  # explicit beats the backend's default
    trellis2 = GenerationParams(backend="trellis2")
    assert (trellis2.pipeline_type, trellis2.stage2_guidance, trellis2.stage3_steps, trellis2.stage3_guidance) == (
        "1024_cascade",
        7.5,
        12,
        1.0,
    )
    assert GenerationParams(backend="trellis2", pipeline_type="1536_cascade").pipeline_type == "1536_cascade"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"backend": "builtin", "octree_resolution": 128}, "backend 'builtin' does not use octree_resolution (it uses steps, guidance)"),
        ({"backend": "shap-e", "stage2_steps": 4}, "backend 'shap-e' does not use stage2_steps"),
        ({"backend": "hunyuan3d-2-turbo", "steps": 80}, "steps=80 is out of range for backend 'hunyuan3d-2-turbo' (1–50)"),
        (
            {"backend": "direct3d-s2", "octree_resolution": 128},
            "octree_resolution=128 is out of range for backend 'direct3d-s2' (256–1024)",
        ),
        ({"backend": "hunyuan9"}, "backend 'hunyuan9' is unknown: choose one of builtin, hunyuan3d-2,"),
        (
            {"backend": "trellis2", "pipeline_type": "2048"},
            "pipeline_type='2048' is not a mode of backend 'trellis2': choose one of 512, 1024, 1024_cascade, 1536_cascade",
        ),
        ({"backend": "trellis", "pipeline_type": "512"}, "backend 'trellis' does not use pipeline_type"),
        ({"backend": "hunyuan3d-2", "stage3_steps": 3}, "backend 'hunyuan3d-2' does not use stage3_steps"),
        ({"backend": "hunyuan3d-2", "octree_resolution": "64"}, "octree_resolution='64' is not a number (backend 'hunyuan3d-2': 64–512)"),
    ],
)
def test_backend_ranges_and_unused_parameters_are_refused(overrides, message):
    with pytest.raises(ParameterError) as caught:
        GenerationParams.resolve(None, **overrides)
    assert message in str(caught.value)
