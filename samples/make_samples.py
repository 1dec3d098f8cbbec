"""Re-create the bundled sample images: textured meshes that ship in `pybullet_data`, rendered with
pybullet's TinyRenderer (a software renderer, no GPU) the way a style model presents a prop: one
centred object on a plain, gradient or softly textured background, or cut out with alpha.

    .venv/bin/pip install pybullet && .venv/bin/python samples/make_samples.py

Nobody on the team made these meshes; they are the sample data of the pybullet package.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pybullet as pb
import pybullet_data
from PIL import Image

SIZE = 512
HERE = Path(__file__).parent

# (output file, mesh, texture, camera direction from the object, camera up, background)
SAMPLES = [
    ("duck.png", "duck.obj", "duckCM.png", (0, 0, 1), (0, 1, 0), "white"),
    ("mug.jpg", "objects/mug.obj", None, (1, 0.35, 0.25), (0, 0, 1), "gradient"),
    ("soccer_ball.png", "soccerball.obj", None, (0.3, 0.2, 1), (0, 1, 0), "alpha"),
    ("ring_toy.png", "torus/torus_textured.obj", None, (0, 1, 1.2), (0, 1, -0.8), "textured"),
]


def render(mesh: str, texture: str | None, direction, up) -> np.ndarray:
    """RGBA render, object filling ~80 % of the frame, near-orthographic (1° field of view)."""
    data = Path(pybullet_data.getDataPath())
    client = pb.connect(pb.DIRECT)
    try:
        shape = pb.createVisualShape(pb.GEOM_MESH, fileName=str(data / mesh), physicsClientId=client)
        body = pb.createMultiBody(baseMass=0, baseVisualShapeIndex=shape, physicsClientId=client)
        if texture:
            pb.changeVisualShape(body, -1, textureUniqueId=pb.loadTexture(str(data / texture)), physicsClientId=client)
        vertices = np.array([[float(x) for x in line.split()[1:4]] for line in open(data / mesh) if line.startswith("v ")])
        centre = (vertices.min(0) + vertices.max(0)) / 2
        radius = np.linalg.norm(vertices.max(0) - vertices.min(0)) / 2
        direction = np.asarray(direction, float) / np.linalg.norm(direction)
        distance = radius / 0.8 / np.tan(np.radians(0.5))
        view = pb.computeViewMatrix((centre + direction * distance).tolist(), centre.tolist(), list(up))
        projection = pb.computeProjectionMatrixFOV(1.0, 1.0, distance - 2 * radius, distance + 2 * radius)
        _, _, rgb, _, seg = pb.getCameraImage(
            SIZE,
            SIZE,
            view,
            projection,
            renderer=pb.ER_TINY_RENDERER,
            lightDirection=[1, 2, 3],
            shadow=0,
            physicsClientId=client,
        )
    finally:
        pb.disconnect(client)
    rgba = np.reshape(np.asarray(rgb, np.uint8), (SIZE, SIZE, 4)).copy()
    rgba[..., 3] = np.where(np.reshape(seg, (SIZE, SIZE)) >= 0, 255, 0)
    return rgba


def background(kind: str, rng: np.random.Generator) -> np.ndarray:
    y = np.linspace(0, 1, SIZE)[:, None, None]
    if kind == "white":
        return np.full((SIZE, SIZE, 3), 250.0)
    if kind == "gradient":
        return np.broadcast_to((1 - y) * np.array([200, 220, 245]) + y * np.array([250, 250, 252]), (SIZE, SIZE, 3))
    # softly textured: warm grey with low-frequency blotches and fine grain
    coarse = rng.normal(0, 1, (8, 8))
    blotches = np.array(Image.fromarray(coarse.astype(np.float32)).resize((SIZE, SIZE), Image.BICUBIC))
    base = np.array([214, 206, 196]) + 6 * blotches[..., None] + rng.normal(0, 2.5, (SIZE, SIZE, 1))
    return base


def main() -> None:
    rng = np.random.default_rng(7)
    for name, mesh, texture, direction, up, kind in SAMPLES:
        rgba = render(mesh, texture, direction, up)
        if kind == "alpha":
            image = Image.fromarray(rgba, "RGBA")
        else:
            alpha = rgba[..., 3:4] / 255.0
            rgb = rgba[..., :3] * alpha + background(kind, rng) * (1 - alpha)
            image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
        image.save(HERE / name, **({"quality": 92} if name.endswith(".jpg") else {"optimize": True}))
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
