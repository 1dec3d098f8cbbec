"""Run inside Blender (not imported by Meshmill): a GLB in, a binary FBX out, as Unity and Unreal import it.

    blender -b --factory-startup --python inference/mesh/fbx_scene.py < jobs

One Blender for a process's writes (``fbx.py``): a job per line on stdin, one line back for each,
``MESHMILL_FBX_WRITTEN`` or ``MESHMILL_FBX_FAILED`` and why; it ends with its stdin.

A job is a JSON object: ``glb`` (the finished asset; its levels of detail, if any, as plain nodes ``name_LODn``), ``stem``
(names the object, the material's textures), ``out`` (the FBX). Blender's own glTF importer reads the GLB and its
FBX exporter writes it, levels of detail as ``stem_LOD0`` … under an empty named ``stem`` (the LOD group Unity's
and Unreal's FBX importers build from the names): binary, +Y up and −Z forward baked into the mesh (no rotation left on the object), scale
applied so that one unit is one metre in the importing engine, the textures embedded and named for what they are
(``stem_basecolor``, ``stem_normal``; a metallic-roughness texture as ``stem_metallic`` and ``stem_roughness``, the
two maps FBX has), tangents for the normal map. Grouping and naming are the Blender add-on's (``meshmill_blender.py``).
"""

import json
import sys
from pathlib import Path

import bpy
import numpy

sys.path.insert(0, str(Path(__file__).parent))  # the add-on beside this file: one way to group and name
from meshmill_blender import group_levels, mend_numpy, name_textures, principled, upstream_image  # noqa: E402


def split_metallic_roughness(material, stem, folder):
    """Metallic and roughness as two grey images fed straight into the Principled BSDF: glTF packs them in one
    texture (blue, green) read through a Separate node, which Blender's FBX exporter does not follow, so the FBX
    lost them. Saved beside the FBX and packed, so they are embedded like the others."""
    bsdf = principled(material)
    packed = bsdf and (upstream_image(bsdf.inputs["Metallic"]) or upstream_image(bsdf.inputs["Roughness"]))
    if not packed:
        return
    width, height = packed.size
    pixels = numpy.empty(width * height * 4, dtype=numpy.float32)
    packed.pixels.foreach_get(pixels)
    pixels = pixels.reshape(-1, 4)
    for socket, channel, role in (("Metallic", 2, "metallic"), ("Roughness", 1, "roughness")):
        grey = numpy.repeat(pixels[:, channel : channel + 1], 4, axis=1)
        grey[:, 3] = 1.0
        image = bpy.data.images.new(f"{stem}_{role}", width, height, alpha=False)
        image.colorspace_settings.name = "Non-Color"
        image.pixels.foreach_set(grey.ravel())
        image.filepath_raw = f"{folder}/{stem}_{role}.png"
        image.file_format = "PNG"
        image.save()
        image.pack()
        node = material.node_tree.nodes.new("ShaderNodeTexImage")
        node.image = image
        material.node_tree.links.new(node.outputs["Color"], bsdf.inputs[socket])


def write_fbx(job):
    """One job: the scene emptied, the GLB in, the FBX out."""
    stem = job["stem"]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=job["glb"])
    group_levels([o for o in bpy.data.objects if o.type == "MESH"], stem)
    name_textures(bpy.data.materials, stem)
    for material in bpy.data.materials:
        if principled(material) is not None:
            split_metallic_roughness(material, stem, str(Path(job["out"]).parent))
    bpy.ops.export_scene.fbx(
        filepath=job["out"],
        object_types={"MESH", "EMPTY"},
        axis_forward="-Z",
        axis_up="Y",
        bake_space_transform=True,
        apply_scale_options="FBX_SCALE_ALL",
        path_mode="COPY",
        embed_textures=True,
        use_tspace=True,
        mesh_smooth_type="OFF",
        add_leaf_bones=False,
        bake_anim=False,
    )


def main():
    mend_numpy()
    for line in sys.stdin:
        try:
            write_fbx(json.loads(line))
        except Exception as exc:  # one bad file is answered, and the next is served
            print(f"MESHMILL_FBX_FAILED {type(exc).__name__}: {exc}".replace("\n", " "), flush=True)
        else:
            print("MESHMILL_FBX_WRITTEN", flush=True)


main()
