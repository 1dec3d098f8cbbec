"""Meshmill's Blender add-on (runs inside Blender, never imported by Meshmill): File › Import › Meshmill asset (.glb).

Install: Blender › Edit › Preferences › Add-ons › Install… and pick this file (``meshmill blender-addon DEST`` writes a
copy), then tick "Import-Export: Meshmill asset". What it adds to Blender's own glTF importer:

- it works on Debian 12's Blender 3.4, whose importer fails on every GLB with numpy ≥ 1.24 (it calls ``numpy.bool``);
- levels of detail (``name_LOD0``, ``name_LOD1``, … in the GLB) become one group: the levels parented to an empty
  named after the asset, level 0 shown and the others hidden in the viewport and the render, as Unity's and
  Unreal's importers treat a LOD group;
- the material and its textures are named for what they are (``chest_material``, ``chest_basecolor``,
  ``chest_normal``, ``chest_metallic_roughness``), not ``Material.001`` and ``Image_0``.

``fbx_scene.py`` (Meshmill's FBX writer, run in Blender) names and groups with the same functions.
"""

import re
from pathlib import Path

import bpy
import numpy
from bpy.props import StringProperty
from bpy_extras.io_utils import ImportHelper

bl_info = {
    "name": "Meshmill asset",
    "description": "Import a Meshmill GLB with its levels of detail as one group and its textures named",
    "author": "Meshmill",
    "version": (1, 0, 0),
    "blender": (3, 4, 0),
    "location": "File > Import > Meshmill asset (.glb)",
    "category": "Import-Export",
}

#: which socket of the Principled BSDF a texture feeds, and the name it is given
ROLES = (("Base Color", "basecolor"), ("Normal", "normal"), ("Roughness", "metallic_roughness"), ("Metallic", "metallic_roughness"))


def mend_numpy():
    """Blender 3.4's glTF importer calls ``numpy.bool``, which numpy 1.24 removed: the alias it meant."""
    if not hasattr(numpy, "bool"):
        numpy.bool = bool


def upstream_image(socket):
    """The image of the first Image Texture node upstream of ``socket`` (through Normal Map, Separate RGB …)."""
    nodes = [link.from_node for link in socket.links]
    while nodes:
        node = nodes.pop(0)
        if node.type == "TEX_IMAGE" and node.image is not None:
            return node.image
        nodes.extend(link.from_node for i in node.inputs for link in i.links)
    return None


def principled(material):
    """The material's Principled BSDF node, or None."""
    if not material.use_nodes:
        return None
    return next((n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED"), None)


def group_levels(meshes, stem):
    """Name the imported meshes after ``stem``; levels of detail (``…_LODn``) go under one empty named ``stem``, the
    group engines build from the names. Returns the levels by number (empty where there is one level)."""
    levels = {int(m.group(1)): o for o in meshes if (m := re.search(r"_LOD(\d+)$", o.name))}
    if len(levels) > 1:
        group = bpy.data.objects.new(stem, None)
        (meshes[0].users_collection or [bpy.context.scene.collection])[0].objects.link(group)
        for level, obj in levels.items():
            obj.name = obj.data.name = f"{stem}_LOD{level}"
            obj.parent = group
        return levels
    for index, obj in enumerate(meshes):
        obj.name = obj.data.name = stem if index == 0 else f"{stem}_{index}"
    return {}


def name_textures(materials, stem):
    """Each material ``stem_material`` and each texture ``stem_<role>`` (base colour, normal, metallic-roughness)."""
    for material in materials:
        bsdf = principled(material)
        if bsdf is None:
            continue
        material.name = f"{stem}_material"
        for socket, role in ROLES:
            image = upstream_image(bsdf.inputs[socket])
            if image is not None:
                image.name = f"{stem}_{role}"
                image.filepath_raw = f"//{stem}_{role}.png"


def import_asset(path):
    """Import the GLB at ``path`` as a Meshmill asset; returns the imported mesh objects."""
    mend_numpy()
    before = set(bpy.data.objects)
    materials_before = set(bpy.data.materials)
    bpy.ops.import_scene.gltf(filepath=str(path))
    meshes = sorted((o for o in bpy.data.objects if o not in before and o.type == "MESH"), key=lambda o: o.name)
    stem = Path(path).stem
    levels = group_levels(meshes, stem)
    for level, obj in levels.items():
        obj.hide_viewport = obj.hide_render = level > 0
    name_textures([m for m in bpy.data.materials if m not in materials_before], stem)
    return meshes


class ImportMeshmillAsset(bpy.types.Operator, ImportHelper):
    """Import a Meshmill GLB: levels of detail as one group, textures named for what they are"""

    bl_idname = "import_scene.meshmill_glb"
    bl_label = "Import Meshmill asset"
    bl_options = {"REGISTER", "UNDO"}
    filename_ext = ".glb"
    filter_glob: StringProperty(default="*.glb;*.gltf", options={"HIDDEN"})

    def execute(self, context):
        meshes = import_asset(self.filepath)
        self.report({"INFO"}, f"Meshmill: {len(meshes)} mesh(es) from {Path(self.filepath).name}")
        return {"FINISHED"}


def menu_entry(self, context):
    self.layout.operator(ImportMeshmillAsset.bl_idname, text="Meshmill asset (.glb)")


def register():
    bpy.utils.register_class(ImportMeshmillAsset)
    bpy.types.TOPBAR_MT_file_import.append(menu_entry)


def unregister():
    bpy.types.TOPBAR_MT_file_import.remove(menu_entry)
    bpy.utils.unregister_class(ImportMeshmillAsset)
