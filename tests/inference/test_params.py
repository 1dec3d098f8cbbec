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
        ({"steps": 0}, "steps=0: input should be greater than or equal to 1 (range 1–100)"),
        ({"steps": 101}, "(range 1–100)"),
        ({"guidance": 10.5}, "(range 0.0–10.0)"),
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
