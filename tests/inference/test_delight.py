"""De-lighting: a known light on a known albedo comes off again; a texture with no light keeps its colours."""

from __future__ import annotations

import numpy as np
import torch
import trimesh

from inference.mesh.delight import MIN_SHADING, delit, divide_shading

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


def four_views_of(albedo: np.ndarray, normals: np.ndarray, light_of) -> list:  # noqa: ANN001
    """What four cameras round a sphere see of ``albedo``, each view lit by ``light_of(view)`` (a world direction):
    the bake's samples (name, colours at every point, which points the view sees)."""
    from inference.views import VIEW_AXES

    samples = []
    for view, (_, toward) in VIEW_AXES.items():
        shading = 0.6 + 0.35 * np.clip(normals @ light_of(view), 0, None)
        sees = torch.tensor(normals @ np.array(toward, float) > 0.2)
        samples.append((view, torch.tensor(albedo * shading[:, None], dtype=torch.float32), sees))
    return samples


def test_each_view_of_a_set_is_delit_under_its_own_cameras_light():
    """A style model or a photographer lights each picture of a view set from the same side of its camera. The bake
    fits one light fixed to the cameras on what every view sees, and each view's albedo comes back; one light fixed in
    the world (what the bake fitted before) leaves most of the light in."""
    from inference.mesh.bake import in_view_frame, views_light
    from inference.views import VIEW_AXES

    normals, albedo = sphere_samples()
    normal = torch.tensor(normals, dtype=torch.float32)

    def camera_light(view: str) -> np.ndarray:  # above, left and in front of each camera
        right, toward = (np.array(axis, float) for axis in VIEW_AXES[view])
        direction = -0.5 * right + 0.7 * np.array([0.0, 1.0, 0.0]) + 0.6 * toward
        return direction / np.linalg.norm(direction)

    samples = four_views_of(albedo, normals, camera_light)
    seen = [sees.numpy() for _, _, sees in samples]
    lit = np.concatenate([colours.numpy()[sees] for (_, colours, _), sees in zip(samples, seen, strict=True)])
    truth = np.concatenate([albedo[sees] for sees in seen])

    def error(colours: np.ndarray) -> float:  # against the albedo, up to one scale
        return float(np.abs(colours * np.median(truth / colours) - truth).mean())

    light = views_light(normal, samples)
    back = [divide_shading(c, in_view_frame(normal, v), light)[0].numpy()[s] for (v, c, _), s in zip(samples, seen, strict=True)]
    assert error(np.concatenate(back)) < 0.2 * error(lit), (error(lit), error(np.concatenate(back)))
    world = delit(torch.cat([c[s] for _, c, s in samples]), torch.cat([normal[s] for _, _, s in samples]))[0].numpy()
    assert error(world) > 0.4 * error(lit), (error(lit), error(world))
