"""Run inside Blender (not imported by Meshmill): render one mesh from our four views, lit and unlit.

    blender -b --factory-startup --python inference/quality/blender_scene.py -- job.json

``job.json``: ``mesh`` (a GLB or an OBJ, glTF convention), ``views`` ({name: [camera direction x, y, z]} in glTF coordinates), ``size``,
``half_extent``, ``samples``, ``modes`` (``lit``, ``unlit``) and ``out`` (a folder; each render is written
there as ``<mode>_<view>.png``, RGBA).

Every material is made the same plain dielectric (metallic 0, roughness 0.8, specular 0.5), whatever its
file says, so a reference and a result differ only in shape and base colour. ``lit``: Cycles, a sun that
turns with the camera (from above, to the camera's left, from in front) plus a uniform grey world.
``unlit``: each material's base colour straight out as emission, nothing else in the scene.
"""

import json
import math
import sys

import bpy
import numpy
from mathutils import Matrix, Vector

if not hasattr(numpy, "bool"):  # Debian 12: Blender 3.4's glTF importer vs numpy 1.24
    numpy.bool = bool

SUN_STRENGTH = 2.2
SUN_IN_CAMERA = (-0.45, 0.6, 1.0)  # where the sun is, in the camera's (right, up, toward the camera) frame
WORLD_GREY = 0.35
UNLIT_SAMPLES = 16  # anti-aliasing only: emission needs no light samples
#: glTF (+Y up, front +Z) to Blender (+Z up, front −Y): what both of Blender's importers do
GLTF_TO_BLENDER = Matrix(((1, 0, 0, 0), (0, 0, -1, 0), (0, 1, 0, 0), (0, 0, 0, 1)))


def to_blender(v):
    return (GLTF_TO_BLENDER.to_3x3() @ Vector(v)).normalized()


def load(job):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    path = job["mesh"]
    if path.lower().endswith(".obj"):
        bpy.ops.wm.obj_import(filepath=path)
    else:
        bpy.ops.import_scene.gltf(filepath=path)
    return [o for o in bpy.data.objects if o.type == "MESH"]


def base_colour_source(material):
    """(the node socket feeding Base Color or None, the constant colour)."""
    bsdf = next((n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED"), None)
    if bsdf is None:
        return None, (0.8, 0.8, 0.8, 1.0)
    socket = bsdf.inputs["Base Color"]
    return (socket.links[0].from_socket if socket.links else None), tuple(socket.default_value)


def plain_materials(meshes, unlit):
    for obj in meshes:
        if not obj.data.materials:
            obj.data.materials.append(bpy.data.materials.new("plain"))
    for material in bpy.data.materials:
        material.use_nodes = True
        tree = material.node_tree
        source, constant = base_colour_source(material)
        for node in [n for n in tree.nodes if n.type not in ("TEX_IMAGE", "UVMAP", "TEX_COORD", "MAPPING", "SEPRGB", "SEPARATE_COLOR")]:
            if source is None or node != source.node:
                tree.nodes.remove(node)
        out = tree.nodes.new("ShaderNodeOutputMaterial")
        if unlit:
            shader = tree.nodes.new("ShaderNodeEmission")
            colour = shader.inputs["Color"]
        else:
            shader = tree.nodes.new("ShaderNodeBsdfPrincipled")
            shader.inputs["Metallic"].default_value = 0.0
            shader.inputs["Roughness"].default_value = 0.8
            shader.inputs["Specular"].default_value = 0.5
            colour = shader.inputs["Base Color"]
        if source is not None:
            tree.links.new(source, colour)
        else:
            colour.default_value = constant
        tree.links.new(shader.outputs[0], out.inputs["Surface"])


def scene_settings(job, unlit):
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = UNLIT_SAMPLES if unlit else job["samples"]
    scene.cycles.use_denoising = False
    scene.cycles.max_bounces = 0 if unlit else 4
    scene.cycles.filter_width = 1.0
    scene.render.film_transparent = True
    scene.render.resolution_x = scene.render.resolution_y = job["size"]
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    world = bpy.data.worlds.new("world")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (WORLD_GREY, WORLD_GREY, WORLD_GREY, 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.0 if unlit else 1.0
    scene.world = world
    return scene


def render(job):
    for mode in job["modes"]:
        unlit = mode == "unlit"
        meshes = load(job)
        plain_materials(meshes, unlit)
        scene = scene_settings(job, unlit)
        camera_data = bpy.data.cameras.new("camera")
        camera_data.type = "ORTHO"
        camera_data.ortho_scale = 2 * job["half_extent"]
        camera_data.clip_start, camera_data.clip_end = 0.01, 100.0
        camera = bpy.data.objects.new("camera", camera_data)
        scene.collection.objects.link(camera)
        scene.camera = camera
        sun = None
        if not unlit:
            sun_data = bpy.data.lights.new("sun", "SUN")
            sun_data.energy = SUN_STRENGTH
            sun_data.angle = math.radians(2.0)
            sun = bpy.data.objects.new("sun", sun_data)
            scene.collection.objects.link(sun)
        for name, direction in job["views"].items():
            toward = to_blender(direction)
            up = to_blender((0.0, 1.0, 0.0))
            if abs(toward.dot(up)) > 0.99:
                up = to_blender((0.0, 0.0, -1.0))
            right = up.cross(toward).normalized()
            up = toward.cross(right).normalized()
            rotation = Matrix((right, up, toward)).transposed()  # a camera looks down its −Z, up its +Y
            camera.matrix_world = Matrix.Translation(toward * 20.0) @ rotation.to_4x4()
            if sun is not None:
                a, b, c = SUN_IN_CAMERA
                where = (a * right + b * up + c * toward).normalized()
                sun.matrix_world = where.to_track_quat("Z", "Y").to_matrix().to_4x4()  # a sun shines down its −Z
            scene.render.filepath = f"{job['out']}/{mode}_{name}.png"
            bpy.ops.render.render(write_still=True)


render(json.loads(open(sys.argv[sys.argv.index("--") + 1]).read()))
print("MESHMILL_RENDERED")
