"""The shape-prior experiment's tools (issue 16): the PMD reader, the training renderer and the model's plumbing."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
import trimesh

from tools.shape_prior import train
from tools.shape_prior.model import DepthPrior, carve, lathe_depths, load_prior, save_prior, view_rotation
from tools.shape_prior.pmd import PmdError, read_pmd


def pmd_bytes(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    vertex = np.zeros(
        len(vertices), [("position", "<f4", 3), ("normal", "<f4", 3), ("uv", "<f4", (1, 2)), ("bones", "u1", 4), ("weights", "<f4", 4)]
    )
    vertex["position"] = vertices
    body = struct.pack("<II", len(vertices), 1) + vertex.tobytes() + struct.pack("<I", len(faces)) + faces.astype("<u2").tobytes()
    body += struct.pack("<II", 0, 0)  # no bones, no prop points
    return b"PSMD" + struct.pack("<II", 4, len(body)) + body


def test_pmd_meshes_are_read_and_broken_ones_named():
    tetra = trimesh.creation.icosahedron()
    data = pmd_bytes(tetra.vertices, tetra.faces)
    vertices, faces = read_pmd(data)
    assert np.allclose(vertices, tetra.vertices, atol=1e-6) and (faces == tetra.faces).all()
    with pytest.raises(PmdError, match="crate.pmd: truncated face block"):
        read_pmd(data[:-40], "crate.pmd")
    with pytest.raises(PmdError, match="not a PMD mesh"):
        read_pmd(b"PK\x03\x04" + data[4:], "crate.pmd")


def test_the_lathe_is_round_and_capped_at_the_silhouettes_height():
    size = 128
    yy, xx = np.mgrid[:size, :size] + 0.5
    disc = torch.from_numpy(((xx - 64) ** 2 + (yy - 64) ** 2 < 40**2).astype(np.float32))[None, None]
    front, back = lathe_depths(disc)[0]
    assert front[64, 64].item() == pytest.approx(40 * 2 / size, rel=0.03)  # the radius, in picture units
    assert back[64, 64].item() == -front[64, 64].item() and front[0, 0].item() == 0.0
    slab = torch.zeros(1, 1, size, size)
    slab[..., 60:70, 10:118] = 1.0  # wide and 10 rows high: depth at most half the height
    assert lathe_depths(slab)[0, 0, 64, 64].item() == pytest.approx(5 * 2 / size, rel=0.05)


@pytest.mark.parametrize("front_share", [1.0, 0.0])
def test_training_renders_give_a_spheres_depth_from_any_pose(tmp_path, front_share, monkeypatch):
    """A sphere framed like a cut-out (diameter 1.8 picture units) is 1.8 deep at its centre, seen from the front
    or from a three-quarter perspective pose; its picture is a lit disc."""
    sphere = trimesh.creation.icosphere(subdivisions=4)
    np.savez(
        tmp_path / "bank.npz",
        triangles=sphere.vertices[sphere.faces].astype(np.float16),
        offsets=np.array([0, len(sphere.faces)]),
        names=np.array(["sphere"]),
    )
    monkeypatch.setattr(train, "POINTS", 60_000)
    bank = train.MeshBank(tmp_path / "bank.npz", torch.device("cpu"))
    inputs, targets, mask = train.render_batch(bank, 2, torch.Generator().manual_seed(1), front_share=front_share)
    centre = train.INPUT_SIZE // 2
    assert mask[:, 0, centre, centre].all() and not mask[:, 0, 0, 0].any()
    thickness = targets[:, 0, centre, centre] - targets[:, 1, centre, centre]
    assert torch.allclose(thickness, torch.full_like(thickness, 1.8), atol=0.12)
    assert mask.float().mean().item() == pytest.approx(np.pi * 0.45**2, rel=0.1)  # a disc 0.9 of the side across
    assert (inputs[:, :3][mask.expand(-1, 3, -1, -1)] > 0).float().mean() > 0.9


def test_a_saved_prior_loads_back_and_starts_as_the_silhouette_shape(tmp_path):
    model = DepthPrior((8, 8, 16))
    save_prior(model, tmp_path / "prior.safetensors")
    loaded = load_prior(tmp_path / "prior.safetensors")
    picture = torch.zeros(1, 4, 128, 128)
    picture[:, :, 30:100, 40:90] = 0.7
    with torch.no_grad():
        assert torch.allclose(loaded(picture), lathe_depths(picture[:, 3:]), atol=1e-6)  # an untrained head adds nothing


def test_carving_keeps_what_lies_between_the_depths_in_the_silhouette():
    mask = torch.zeros(64, 64, dtype=torch.bool)
    mask[16:48, 16:48] = True  # the square [-0.5, 0.5]² of the picture
    front, back = torch.full((64, 64), 0.25), torch.full((64, 64), -0.25)
    points = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.4], [0.8, 0.0, 0.0], [0.3, -0.3, -0.2]])
    inside = carve(mask, front, back, points) > 0
    assert inside.tolist() == [True, False, False, True]
    turned = torch.tensor([[0.0, 0.0, 1.0]]) @ torch.from_numpy(view_rotation(90.0, 0.0)).float().T
    assert torch.allclose(turned, torch.tensor([[-1.0, 0.0, 0.0]]), atol=1e-6)  # seen from its left, +Z points left


def test_training_resumes_from_its_checkpoint_and_refuses_other_data(tmp_path, monkeypatch):
    """Two short calls make one run: the second starts at the step, weights and GPU time the first saved, the
    checkpoint's moving average is what ``load_prior`` reads, and a checkpoint made on other data is refused."""
    sphere = trimesh.creation.icosphere(subdivisions=2)
    data = tmp_path / "bank.npz"
    np.savez(data, triangles=sphere.vertices[sphere.faces].astype(np.float16), offsets=np.array([0, len(sphere.faces)]))
    monkeypatch.setattr(train, "POINTS", 2_000)
    first = tmp_path / "first.safetensors"
    common = ["--batch", "2", "--widths", "8,8", "--total-steps", "40"]
    monkeypatch.setattr("sys.argv", ["train", str(data), "--steps", "3", "--out", str(first), *common])
    train.main()
    model, average, meta = train.load_checkpoint(first, train.data_hash(data))
    assert meta["step"] == "3" and meta["data_sha256"] == train.data_hash(data)
    assert not torch.equal(model.head.weight, average.head.weight)  # trained weights and their average are both kept
    assert torch.equal(load_prior(first).head.weight, average.head.weight)
    second = tmp_path / "second.safetensors"
    monkeypatch.setattr("sys.argv", ["train", str(data), "--steps", "2", "--resume", str(first), "--out", str(second), *common])
    train.main()
    assert train.load_checkpoint(second, train.data_hash(data))[2]["step"] == "5"
    other = tmp_path / "other.npz"
    np.savez(other, triangles=sphere.vertices[sphere.faces][:-1].astype(np.float16), offsets=np.array([0, len(sphere.faces) - 1]))
    with pytest.raises(SystemExit, match="made on data"):
        train.load_checkpoint(second, train.data_hash(other))


def test_the_learning_rate_is_one_cosine_over_every_call_with_a_warm_up_after_each_resume():
    peak, total = 1e-3, 10_000
    assert train.learning_rate(0, 0, total, peak) == pytest.approx(peak / train.WARMUP)
    assert train.learning_rate(5_000, 0, total, peak) == pytest.approx(peak * (0.02 + 0.49))
    resumed = train.learning_rate(5_000, 5_000, total, peak)  # a new call: warm up again from the same point
    assert resumed == pytest.approx(peak * 0.51 / train.WARMUP)
    assert train.learning_rate(total + 5, 0, total, peak) == pytest.approx(peak * 0.02)
