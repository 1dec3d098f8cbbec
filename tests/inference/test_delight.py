"""De-lighting: a known light on a known albedo comes off again; a texture with no light keeps its colours."""

from __future__ import annotations

import numpy as np
import torch
import trimesh

from inference.mesh.delight import MIN_SHADING, delit

LIGHT = np.array([1.0, 2.0, 3.0]) / np.linalg.norm([1.0, 2.0, 3.0])


def sphere_samples(count: int = 40_000) -> tuple[np.ndarray, np.ndarray]:
    """Unit normals all over a sphere and a checker albedo on them (two colours, a quarter of the range apart)."""
    normals = trimesh.sample.sample_surface_sphere(count, seed=0)
    checker = ((np.floor(4 * np.arctan2(normals[:, 2], normals[:, 0])) + np.floor(4 * normals[:, 1])) % 2).astype(bool)
    albedo = np.where(checker[:, None], [0.8, 0.5, 0.3], [0.45, 0.6, 0.75])
    return normals, albedo


def test_a_known_light_comes_off_a_checker_sphere():
    normals, albedo = sphere_samples()
    shading = 0.6 + 0.35 * np.clip(normals @ LIGHT, 0, None)  # pybullet TinyRenderer's ambient + diffuse
    lit = albedo * shading[:, None]
    colours, estimated = (x.numpy() for x in delit(torch.tensor(lit), torch.tensor(normals)))
    # the light is known up to a scale (the most lit surface keeps its colour): compare ratios
    scale = np.median(albedo / colours)
    before = np.abs(lit * np.median(albedo / lit) - albedo).mean()
    after = np.abs(colours * scale - albedo).mean()
    assert after < 0.2 * before, (before, after)
    relative = estimated / shading
    assert np.percentile(np.abs(relative / np.median(relative) - 1), 95) < 0.08  # the shading itself, up to scale
    assert estimated.max() / estimated.min() <= 1 / MIN_SHADING + 1e-6


def test_dark_glossy_art_is_not_made_bright():
    """On a dark albedo a white highlight dominates the fitted light; dividing by it, scaled to the highlight,
    made a dark wooden prop a quarter brighter under Blender's light. The albedo keeps the mean brightness the
    picture shows."""
    normals, albedo = sphere_samples()
    dark = 0.12 * albedo
    highlight = 0.35 * np.clip(normals @ LIGHT, 0, None) ** 12
    lit = dark * (0.6 + 0.35 * np.clip(normals @ LIGHT, 0, None))[:, None] + highlight[:, None]
    colours = delit(torch.tensor(lit), torch.tensor(normals))[0].numpy()
    luma = np.array([0.2126, 0.7152, 0.0722])
    assert (colours @ luma).mean() <= 1.02 * (lit @ luma).mean()  # scaled to the most lit surface: 1.41


def test_a_texture_without_light_keeps_its_colours():
    normals, albedo = sphere_samples()
    colours, estimated = (x.numpy() for x in delit(torch.tensor(albedo), torch.tensor(normals)))
    assert np.abs(colours - albedo).max() < 2 / 255 and estimated.min() > 0.99
