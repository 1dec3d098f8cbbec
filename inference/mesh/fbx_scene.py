"""Run inside Blender (not imported by Meshmill): a GLB in, a binary FBX out, as Unity and Unreal import it.

    blender -b --factory-startup --python inference/mesh/fbx_scene.py -- job.json

``job.json``: ``glb`` (the finished asset; its levels of detail, if any, as plain nodes ``name_LODn``), ``stem``
(names the object, the material's textures), ``out`` (the FBX). Blender's own glTF importer reads the GLB and its
FBX exporter writes it, levels of detail as ``stem_LOD0`` … under an empty named ``stem`` (the LOD group Unity's
and Unreal's FBX importers build from the names): binary, +Y up and −Z forward baked into the mesh (no rotation left on the object), scale
applied so that one unit is one metre in the importing engine, the textures embedded and named for what they are
(``stem_basecolor``, ``stem_normal``, ``stem_metallic_roughness``), tangents for the normal map.
"""

import json
import re
import sys

import bpy
import numpy

if not hasattr(numpy, "bool"):  # Debian 12: Blender 3.4's glTF importer vs numpy 1.24
    numpy.bool = bool

#: which socket of the Principled BSDF a texture feeds, and the name it is given
ROLES = (("Base Color", "basecolor"), ("Normal", "normal"), ("Roughness", "metallic_roughness"), ("Metallic", "metallic_roughness"))


def upstream_image(socket):
    """The image of the first Image Texture node upstream of ``socket`` (through Normal Map, Separate RGB …)."""
    nodes = [link.from_node for link in socket.links]
    while nodes:
        node = nodes.pop(0)
        if node.type == "TEX_IMAGE" and node.image is not None:
            return node.image
        nodes.extend(link.from_node for i in node.inputs for link in i.links)
    return None


def main():
    job = json.load(open(sys.argv[sys.argv.index("--") + 1]))
    stem = job["stem"]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=job["glb"])
    meshes = [o for o in bpy.data.objects if o.type == "MESH"]
    levels = {int(m.group(1)): o for o in meshes if (m := re.search(r"_LOD(\d+)$", o.name))}
    if len(levels) > 1:  # levels of detail: stem_LOD0 … under one parent named stem, the group Unity and Unreal build
        group = bpy.data.objects.new(stem, None)
        bpy.context.scene.collection.objects.link(group)
        for level, obj in levels.items():
            obj.name = obj.data.name = f"{stem}_LOD{level}"
            obj.parent = group
    else:
        for index, obj in enumerate(meshes):
            obj.name = obj.data.name = stem if index == 0 else f"{stem}_{index}"
    for material in bpy.data.materials:
        if not material.use_nodes:
            continue
        bsdf = next((n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED"), None)
        if bsdf is None:
            continue
        material.name = f"{stem}_material"
        for socket, role in ROLES:
            image = upstream_image(bsdf.inputs[socket])
            if image is not None:
                image.name = f"{stem}_{role}"
                image.filepath_raw = f"//{stem}_{role}.png"
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
    print("MESHMILL_FBX_WRITTEN")


main()
