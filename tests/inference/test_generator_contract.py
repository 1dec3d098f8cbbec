"""One contract every shape backend passes, whatever is behind it: the built-in generator, tiny Hunyuan3D-2
and 2mv, tiny Shap-E (to the latent: at toy size its renderer decodes no surface) and the remote backend
against `meshmill model-server`. Each is built through ``get_generator`` from what a studio would have:
the models folder, or a server address."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from inference.backends import backend_spec
from inference.generators import EmptySurface, ShapeGenerator, get_generator
from inference.params import GenerationParams
from inference.pipeline import clean_views, make_shape, upscale_views
from inference.views import VIEW_NAMES, FramedViews, ViewError
from tests.support import SAMPLES
from tests.support.servers import app_in_thread
from tests.support.tiny_hunyuan import build_dit

BACKENDS = ("builtin", "hunyuan3d-2", "hunyuan3d-2mv", "shap-e", "remote")


def quick(backend: str, seed: int = 0) -> GenerationParams:
    """Few steps and the coarsest volume the backend allows: a contract, not a result."""
    spec = backend_spec(backend)
    given: dict[str, Any] = {"steps": min(int(spec.params["steps"].default), 2)}
    if "octree_resolution" in spec.params:
        given["octree_resolution"] = int(spec.params["octree_resolution"].low)
    return GenerationParams.resolve(None, backend=backend, target_faces=800, texture_size=512, seed=seed, **given)


def framed(images: dict[str, Image.Image]) -> FramedViews:
    params = GenerationParams()
    return upscale_views(clean_views(images, params), params)


@pytest.fixture(scope="module")
def duck() -> FramedViews:
    return framed({"front": Image.open(SAMPLES / "duck.png")})


@pytest.fixture(scope="module")
def ball_all_round() -> FramedViews:
    """Four views that agree (a ball looks the same from every side), so framing keeps all four."""
    ball = Image.open(SAMPLES / "soccer_ball.png")
    views = framed(dict.fromkeys(VIEW_NAMES, ball))
    assert set(views.images) == set(VIEW_NAMES)
    return views


@pytest.fixture(scope="session")
def blank_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny Hunyuan3D-2 and 2mv whose decoders put every point outside: every generation is empty."""
    root = tmp_path_factory.mktemp("blank-models")
    build_dit(root, "tencent/Hunyuan3D-2", "hunyuan3d-dit-v2-0", blank=True)
    build_dit(root, "tencent/Hunyuan3D-2mv", "hunyuan3d-dit-v2-mv", multiview=True, blank=True)
    return root


@pytest.fixture(scope="session")
def blank_model_server(blank_models: Path) -> Iterator[str]:
    """`meshmill model-server`'s app serving the blank Hunyuan3D-2, in a thread of this process."""
    from orchestration.model_server import create_app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MESHMILL_MODELS_DIR", str(blank_models))
        app = create_app("hunyuan3d-2", "cpu")
    with app_in_thread(app) as url:
        yield url


@dataclass
class Contract:
    generator: ShapeGenerator
    #: what the seed decides: the mesh, or for Shap-E at toy size, the latent
    sample: Callable[[FramedViews, GenerationParams], Any]
    #: a generator of the same backend that meets no surface, with the views it meets none on
    empty: Callable[[], tuple[ShapeGenerator, FramedViews]]
    surface: bool = True  # it decodes a surface at toy size


def _in_models(folder: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> ShapeGenerator:
    monkeypatch.setenv("MESHMILL_MODELS_DIR", str(folder))
    return get_generator(backend, "cpu")


def _remote(url: str, monkeypatch: pytest.MonkeyPatch) -> ShapeGenerator:
    monkeypatch.setenv("MESHMILL_REMOTE_URL", url)
    monkeypatch.setenv("MESHMILL_REMOTE_ATTEMPTS", "1")
    return get_generator("remote")


@pytest.fixture(params=BACKENDS)
def contract(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, duck: FramedViews) -> Contract:
    backend = request.param
    shape = lambda generator: lambda views, params: generator.generate(views, params)  # noqa: E731
    if backend == "builtin":
        generator = get_generator("builtin", "cpu")
        nothing = FramedViews({"front": np.zeros_like(duck.images["front"])})  # no silhouette to lift
        return Contract(generator, shape(generator), lambda: (generator, nothing))
    if backend.startswith("hunyuan"):
        generator = _in_models(request.getfixturevalue("tiny_models"), backend, monkeypatch)
        blank = request.getfixturevalue("blank_models")
        return Contract(generator, shape(generator), lambda: (_in_models(blank, backend, monkeypatch), duck))
    if backend == "shap-e":
        generator = _in_models(request.getfixturevalue("shap_e_models"), backend, monkeypatch)
        return Contract(generator, generator.latent, lambda: (generator, duck), surface=False)
    generator = _remote(request.getfixturevalue("model_server"), monkeypatch)
    blank_url = request.getfixturevalue("blank_model_server")
    return Contract(generator, shape(generator), lambda: (_remote(blank_url, monkeypatch), duck))


def test_the_generator_is_the_backend_the_table_describes(contract, request):
    generator = contract.generator
    spec = backend_spec(request.node.callspec.params["contract"])
    assert (generator.name, generator.spec, generator.accepts_views) == (spec.name, spec, spec.views)
    assert isinstance(generator.version, str) and generator.version


def test_the_shape_comes_back_in_the_views_frame_as_float64_and_int64(contract, duck):
    if not contract.surface:
        pytest.skip("decodes no surface at toy size: its renderer's marching-cubes tables ship in the published checkpoint")
    vertices, faces = contract.generator.generate(duck, quick(contract.generator.name))
    assert vertices.dtype == np.float64 and vertices.ndim == 2 and vertices.shape[1] == 3 and np.isfinite(vertices).all()
    assert faces.dtype == np.int64 and faces.ndim == 2 and faces.shape[1] == 3 and len(faces) > 0
    assert faces.min() >= 0 and faces.max() < len(vertices)
    # the front silhouette's box, in world units (+Y up, the frame spanning [-1, 1])
    ys, xs = np.nonzero(duck.mask("front"))
    size = duck.images["front"].shape[0]
    top, bottom = 1 - 2 * ys.min() / size, 1 - 2 * (ys.max() + 1) / size
    left, right = 2 * xs.min() / size - 1, 2 * (xs.max() + 1) / size - 1
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    assert high[1] - low[1] == pytest.approx(top - bottom, abs=0.06)  # as tall as the front view shows it
    assert (low[1] + high[1]) / 2 == pytest.approx((top + bottom) / 2, abs=0.03)
    assert (low[0] + high[0]) / 2 == pytest.approx((left + right) / 2, abs=0.06)
    assert abs((low[2] + high[2]) / 2) < 0.1  # centred in depth, where no view says otherwise


def test_views_it_cannot_use_are_refused_by_name(contract, ball_all_round):
    generator = contract.generator
    refused = sorted(set(VIEW_NAMES) - generator.accepts_views)
    params = quick(generator.name)
    if refused:
        with pytest.raises(ViewError, match=rf"backend '{generator.name}' cannot use the {', '.join(refused)} view\(s\)"):
            make_shape(ball_all_round, params, generator)
    elif contract.surface:
        mesh = make_shape(ball_all_round, params, generator).mesh
        assert abs(len(mesh.faces) - 800) <= 40


def same(a: Any, b: Any) -> bool:
    """Equal results: a mesh is a (vertices, faces) pair, a latent one tensor."""
    pairs = zip(a, b, strict=True) if isinstance(a, tuple) else [(a, b)]
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in pairs)


def test_the_seed_does_what_the_table_says(contract, duck):
    name = contract.generator.name
    first, again, other = (contract.sample(duck, quick(name, seed)) for seed in (1, 1, 2))
    assert same(first, again)  # the same seed gives the same result
    if backend_spec(name).seeded:
        assert not same(first, other)
    else:  # documented: no random stage, every seed gives the same mesh
        assert same(first, other)


def test_no_surface_is_an_empty_surface_error(contract):
    generator, views = contract.empty()
    with pytest.raises(EmptySurface, match=r"no surface|leave no volume|no triangles"):
        generator.generate(views, quick(generator.name))
