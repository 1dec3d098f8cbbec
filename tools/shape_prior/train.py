"""Train the shape prior (``tools.shape_prior.model.DepthPrior``) on 0 A.D.'s meshes, on a GPU, in rounds.

    python -m tools.shape_prior.prepare public.zip prior-data        # once: the meshes and the held-out split
    python -m tools.shape_prior.train prior-data/train.npz --minutes 9 --out ckpt.safetensors
    python -m tools.shape_prior.train prior-data/train.npz --minutes 9 --resume ckpt.safetensors --out ckpt.safetensors

Training is resumable, so that it can run as many short GPU calls spread over time: a checkpoint
(``save_checkpoint``) holds the weights being trained, their moving average (what ``model.load_prior``
loads and the evaluation scores), the step reached, the GPU time spent so far and the SHA-256 of the data
it was trained on; ``--resume`` refuses a checkpoint made on other data. The learning rate follows one
cosine over ``--total-steps`` whatever the number of calls it takes; the optimiser's moments are not kept
(they would triple the file) and are rebuilt over a short warm-up after each resume.

Every batch is rendered on the fly, on the GPU, by splatting dense surface samples: each mesh turned to a
random yaw, seen either from the front (orthographic, like our front view) or from a three-quarter pose
(elevation 5–35°, perspective with a field of view of 20–50°), framed like ``inference.views`` frames a
cut-out, shaded with a random colour and light. What the network learns to predict is, per pixel, the
depth of the nearest and farthest surface, in the picture's units (``DepthPrior``'s docstring). Batches
are drawn from the seed and the step, so a resumed run does not repeat the pictures it has seen.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from inference.views import EXTENT
from tools.shape_prior.model import INPUT_SIZE, DepthPrior, save_prior

RENDER = 2 * INPUT_SIZE  # rendered at twice the input side, then averaged down: soft edges like a resized cut-out
POINTS = 300_000


class MeshBank:
    """Every training mesh as one triangle soup on the device, sampled by area."""

    def __init__(self, npz: Path, device: torch.device):
        data = np.load(npz)
        self.triangles = torch.from_numpy(data["triangles"].astype(np.float32)).to(device)  # (T, 3, 3)
        self.offsets = torch.from_numpy(data["offsets"]).to(device)
        self.count = len(self.offsets) - 1
        a, b, c = self.triangles.unbind(1)
        cross = torch.linalg.cross(b - a, c - a)
        area = cross.norm(dim=1)
        self.normals = cross / area[:, None].clamp(min=1e-12)
        mesh_of = torch.repeat_interleave(torch.arange(self.count, device=device), self.offsets[1:] - self.offsets[:-1])
        cumulative = torch.cumsum(area.double(), 0)
        start = torch.cat([torch.zeros(1, device=device, dtype=torch.float64), cumulative])[self.offsets[:-1]]
        total = cumulative[self.offsets[1:] - 1] - start
        # mesh m's triangles cover (m, m + 1]: one sorted array serves every mesh's sampling
        self.key = mesh_of.double() + (cumulative - start[mesh_of]) / total[mesh_of]

    def sample(self, meshes: torch.Tensor, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Points (B, n, 3), their triangles' normals (B, n, 3) and triangle ids (B, n) on the meshes named."""
        device = self.key.device
        u = torch.rand(len(meshes), n, device=device, generator=generator, dtype=torch.float64)
        ids = torch.searchsorted(self.key, meshes[:, None].double() + u.clamp(1e-9, 1 - 1e-9))
        ids = torch.minimum(ids, self.offsets[meshes + 1][:, None] - 1)
        tri = self.triangles[ids]
        r1 = torch.rand(len(meshes), n, 1, device=device, generator=generator).sqrt()
        r2 = torch.rand(len(meshes), n, 1, device=device, generator=generator)
        points = (1 - r1) * tri[:, :, 0] + r1 * (1 - r2) * tri[:, :, 1] + r1 * r2 * tri[:, :, 2]
        return points, self.normals[ids], ids


def _rotation(yaw: torch.Tensor, elevation: torch.Tensor) -> torch.Tensor:
    cy, sy, ce, se = yaw.cos(), yaw.sin(), elevation.cos(), elevation.sin()
    zero, one = torch.zeros_like(yaw), torch.ones_like(yaw)
    turn = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], 1).view(-1, 3, 3)
    tilt = torch.stack([one, zero, zero, zero, ce, -se, zero, se, ce], 1).view(-1, 3, 3)
    return tilt @ turn


def render_batch(
    bank: MeshBank, batch: int, generator: torch.Generator, front_share: float = 0.4
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs (B, 4, S, S) premultiplied RGBA, targets (B, 2, S, S) front/back depth, and the mask (B, 1, S, S)."""
    device = bank.key.device
    rand = lambda *shape: torch.rand(*shape, device=device, generator=generator)  # noqa: E731
    meshes = torch.randint(0, bank.count, (batch,), device=device, generator=generator)
    points, normals, ids = bank.sample(meshes, POINTS, generator)
    front_view = rand(batch) < front_share
    yaw = rand(batch) * 2 * math.pi
    elevation = torch.where(front_view, torch.zeros(batch, device=device), torch.deg2rad(5 + 30 * rand(batch)))
    fov = torch.deg2rad(20 + 30 * rand(batch))
    rotation = _rotation(yaw, elevation)
    p = points @ rotation.transpose(1, 2)
    n = normals @ rotation.transpose(1, 2)
    distance = math.sqrt(3) / torch.sin(fov / 2)
    # perspective divides by the distance from the camera; the front view is orthographic
    divide = torch.where(front_view[:, None], torch.ones_like(p[..., 2]), (distance[:, None] - p[..., 2]) / distance[:, None])
    u, v = p[..., 0] / divide, p[..., 1] / divide
    lo_u, hi_u, lo_v, hi_v = u.amin(1), u.amax(1), v.amin(1), v.amax(1)
    extent = torch.maximum(hi_u - lo_u, hi_v - lo_v).clamp(min=1e-6)
    k = (EXTENT / extent)[:, None]
    x = (u - ((lo_u + hi_u) / 2)[:, None]) * k
    y = (v - ((lo_v + hi_v) / 2)[:, None]) * k
    depth = p[..., 2] * k  # the picture's units: the same factor as x and y at the object's centre
    px = ((x + 1) / 2 * RENDER).long().clamp(0, RENDER - 1)
    py = ((1 - y) / 2 * RENDER).long().clamp(0, RENDER - 1)
    index = (torch.arange(batch, device=device)[:, None] * RENDER * RENDER + py * RENDER + px).flatten()
    flat_depth = depth.flatten()
    pixels = batch * RENDER * RENDER
    front = torch.full((pixels,), -torch.inf, device=device).scatter_reduce(0, index, flat_depth, "amax")
    back = torch.full((pixels,), torch.inf, device=device).scatter_reduce(0, index, flat_depth, "amin")
    # shading: a random colour per object, jittered per triangle, a random light, both faces lit
    n = torch.where(n[..., 2:3] < 0, -n, n)
    light = F.normalize(
        torch.randn(batch, 3, device=device, generator=generator) * 0.6 + torch.tensor([0.3, 0.8, 1.0], device=device), dim=1
    )
    ambient = (0.2 + 0.3 * rand(batch))[:, None]
    lambert = (n * light[:, None]).sum(-1).clamp(min=0)
    jitter = 1 + 0.3 * (torch.frac(torch.sin(ids.float() * 12.9898) * 43758.5453) - 0.5)
    base = 0.15 + 0.85 * rand(batch, 3)
    colour = (base[:, None] * ((ambient + (1 - ambient) * lambert) * jitter)[..., None]).clamp(0, 1).reshape(-1, 3)
    visible = flat_depth >= front[index] - 4.0 / RENDER
    rgb = torch.zeros(pixels, 3, device=device).index_add_(0, index[visible], colour[visible])
    hits = torch.zeros(pixels, device=device).index_add_(0, index[visible], torch.ones_like(flat_depth[visible]))
    shape = (batch, 1, RENDER, RENDER)
    mask = torch.isfinite(front).view(shape).float()
    rgb = (rgb / hits.clamp(min=1)[:, None]).view(batch, RENDER, RENDER, 3).permute(0, 3, 1, 2)
    front = torch.where(torch.isfinite(front), front, torch.zeros_like(front)).view(shape)
    back = torch.where(torch.isfinite(back), back, torch.zeros_like(back)).view(shape)
    # close one-pixel holes the samples missed
    closed = -F.max_pool2d(-F.max_pool2d(mask, 3, 1, 1), 3, 1, 1)
    holes = closed - mask
    front = front + holes * _masked_max(front, mask, 3, 1, 1)
    back = back - holes * _masked_max(-back, mask, 3, 1, 1)
    rgb = rgb + holes * F.avg_pool2d(rgb * mask, 3, 1, 1) / F.avg_pool2d(mask, 3, 1, 1).clamp(min=1e-6)
    mask = closed
    # down to the network's side: alpha and colour averaged, depths the extremes of each 2×2
    alpha = F.avg_pool2d(mask, 2)
    rgb = F.avg_pool2d(rgb * mask, 2)  # premultiplied
    inputs = torch.cat([rgb, alpha], 1)
    targets = torch.cat([_masked_max(front, mask, 2, 2), -_masked_max(-back, mask, 2, 2)], 1)
    flip = (rand(batch) < 0.5)[:, None, None, None]  # mirror images are objects too
    return tuple(torch.where(flip, t.flip(-1), t) for t in (inputs, targets, alpha > 0.5))


def _masked_max(values: torch.Tensor, mask: torch.Tensor, kernel: int, stride: int, padding: int = 0) -> torch.Tensor:
    """The largest of ``values`` where ``mask`` is set, over each pooling window (pixels outside sit far below)."""
    return F.max_pool2d(values * mask - 9 * (1 - mask), kernel, stride, padding)


def depth_loss(predicted: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute depth error inside the silhouette, blind to a shift of the whole object in depth: where the
    object's centre lies along the camera's axis cannot be told from one picture, and does not change its shape."""
    weight = mask.float()
    error = (predicted - targets) * weight
    pixels = (2 * weight.sum((1, 2, 3))).clamp(min=1)
    shift = error.sum((1, 2, 3)) / pixels
    depth = (error - shift[:, None, None, None] * weight).abs().sum((1, 2, 3)) / pixels
    # and the thickness on its own (the front-to-back distance is what a silhouette cannot give)
    thickness = ((error[:, :1] - error[:, 1:]).abs().sum((1, 2, 3)) / (pixels / 2)).mean()
    return depth.mean() + thickness


def train_step(model: DepthPrior, optimiser: torch.optim.Optimizer, bank: MeshBank, batch: int, generator: torch.Generator) -> float:
    """One batch rendered, one step taken; returns the batch's loss."""
    with torch.no_grad():
        inputs, targets, mask = render_batch(bank, batch, generator)
    with torch.autocast(inputs.device.type, dtype=torch.bfloat16, enabled=inputs.device.type == "cuda"):
        predicted = model(inputs)
    loss = depth_loss(predicted.float(), targets, mask)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimiser.step()
    return loss.item()


WARMUP = 200  # steps of linear warm-up, at the start and after every resume (the optimiser's moments start at zero)


def learning_rate(step: int, first: int, total: int, peak: float) -> float:
    """One cosine from ``peak`` to 2 % of it over ``total`` steps, with a warm-up from ``first`` (where this call began)."""
    progress = min(step / total, 1.0)
    cosine = 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))
    return peak * cosine * min(1.0, (step - first + 1) / WARMUP)


def data_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(path: Path, model: DepthPrior, average: DepthPrior, meta: dict[str, str]) -> None:
    """The moving average under the plain names (``load_prior`` reads it), the trained weights under ``train.``, in
    fp16 (a 4.9 M-parameter network: under 20 MB), with ``meta`` (step, GPU time, data hash, ...) as metadata."""
    save_prior(average, path, extra=model, meta=meta)


def load_checkpoint(path: Path, digest: str) -> tuple[DepthPrior, DepthPrior, dict[str, str]]:
    """The trained weights, their average and the metadata of a checkpoint made on the data whose hash is ``digest``."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as handle:
        meta = handle.metadata()
    if meta.get("data_sha256") != digest:
        raise SystemExit(f"{path}: made on data {meta.get('data_sha256', '(not recorded)')[:12]}, not on this data ({digest[:12]})")
    widths = tuple(int(w) for w in meta["widths"].split(","))
    tensors = load_file(str(path))
    model, average = DepthPrior(widths), DepthPrior(widths)
    model.load_state_dict({k.removeprefix("train."): v.float() for k, v in tensors.items() if k.startswith("train.")})
    average.load_state_dict({k: v.float() for k, v in tensors.items() if not k.startswith("train.")})
    return model, average, meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="train.npz written by tools.shape_prior.prepare")
    parser.add_argument("--out", type=Path, required=True, help="the checkpoint written at the end (and every 2,000 steps)")
    parser.add_argument("--resume", type=Path, help="continue from this checkpoint")
    parser.add_argument("--steps", type=int, default=10**9, help="at most this many steps in this call")
    parser.add_argument("--minutes", type=float, default=9.0, help="stop after this long (a GPU call's limit) and save")
    parser.add_argument("--total-steps", type=int, default=45_000, help="the whole training, over every call: the cosine's length")
    parser.add_argument("--batch", type=int, default=96)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--average", type=float, default=0.999, help="decay of the weights' moving average")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--widths", default="32,64,128,256,256")
    parser.add_argument("--samples", type=Path, help="also save a batch of renders here (npz), to look at")
    args = parser.parse_args()
    started = time.monotonic()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    digest = data_hash(args.data)
    if args.resume:
        model, average, meta = load_checkpoint(args.resume, digest)
        first, spent = int(meta["step"]), float(meta["gpu_seconds"])
    else:
        torch.manual_seed(args.seed)
        model = DepthPrior(tuple(int(w) for w in args.widths.split(",")))
        average = DepthPrior(model.widths)
        average.load_state_dict(model.state_dict())
        first, spent = 0, 0.0
    model, average = model.to(device), average.to(device).eval()
    generator = torch.Generator(device).manual_seed(args.seed * 1_000_003 + first)
    bank = MeshBank(args.data, device)
    parameters = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"{bank.count} meshes, {len(bank.triangles)} triangles; {parameters:.2f} M parameters on {device}; from step {first}", flush=True)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    trained = time.monotonic()
    step, losses = first, []

    def save() -> None:
        gpu_seconds = spent + (time.monotonic() - trained if device.type == "cuda" else 0.0)
        meta = {
            "step": str(step),
            "gpu_seconds": f"{gpu_seconds:.0f}",
            "data_sha256": digest,
            "batch": str(args.batch),
            "total_steps": str(args.total_steps),
            "lr": str(args.lr),
            "seed": str(args.seed),
            "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        }
        save_checkpoint(args.out, model, average, meta)
        print(
            f"saved {args.out} at step {step} ({args.out.stat().st_size / 1e6:.1f} MB, {gpu_seconds / 60:.1f} GPU-minutes in all)",
            flush=True,
        )

    while step < min(args.total_steps, first + args.steps) and time.monotonic() - started < args.minutes * 60:
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(step, first, args.total_steps, args.lr)
        losses.append(train_step(model, optimiser, bank, args.batch, generator))
        with torch.no_grad():
            for kept, current in zip(average.parameters(), model.parameters(), strict=True):
                kept.lerp_(current, 1 - args.average)
            for kept, current in zip(average.buffers(), model.buffers(), strict=True):
                kept.copy_(current)
        step += 1
        if step % 500 == 0:
            print(
                f"step {step}: loss {np.mean(losses):.4f} (picture units), lr {optimiser.param_groups[0]['lr']:.2e}, "
                f"{time.monotonic() - started:.0f} s",
                flush=True,
            )
            losses = []
        if step % 2000 == 0:
            save()
    save()
    if args.samples:
        with torch.no_grad():
            inputs, targets, mask = render_batch(bank, 16, generator)
        np.savez_compressed(args.samples, inputs=inputs.cpu().numpy(), targets=targets.cpu().numpy(), mask=mask.cpu().numpy())


if __name__ == "__main__":
    main()
