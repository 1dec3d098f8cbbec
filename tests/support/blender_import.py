"""Run inside Blender: import a GLB (or an OBJ, or an FBX) and print what Blender made of it as one JSON line.

blender -b --factory-startup --python tests/blender_import.py -- model.glb [--tangents] [--addon meshmill_blender.py]

With ``--addon``, the GLB is imported by Meshmill's Blender add-on (registered from that file, its menu operator
called), on a numpy without the ``numpy.bool`` Blender 3.4's importer needs: the add-on must mend that itself.
With ``--tangents``, also the MikkTSpace tangent Blender computes for every face corner (loop) of the first
mesh, with the corner's position and UV (Blender's frame: Z up; UV v up).
"""

import importlib.util
import json
import sys

import bpy
import numpy

path = sys.argv[sys.argv.index("--") + 1]
bpy.ops.wm.read_factory_settings(use_empty=True)
if "--addon" in sys.argv:
    if hasattr(numpy, "bool"):
        del numpy.bool  # as numpy 1.24 to 1.26 have it, whatever this Blender's numpy is
    spec = importlib.util.spec_from_file_location("meshmill_blender", sys.argv[sys.argv.index("--addon") + 1])
    addon = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(addon)
    addon.register()
    bpy.ops.import_scene.meshmill_glb(filepath=path)
elif path.endswith(".obj"):
    bpy.ops.wm.obj_import(filepath=path)
elif path.endswith(".fbx"):
    bpy.ops.import_scene.fbx(filepath=path)
else:
    if not hasattr(numpy, "bool"):  # Debian 12: Blender 3.4 importer vs numpy 1.24
        numpy.bool = bool
    bpy.ops.import_scene.gltf(filepath=path)
meshes = [o for o in bpy.data.objects if o.type == "MESH"]
out = {
    "meshes": len(meshes),
    "faces": sum(len(o.data.polygons) for o in meshes),
    "materials": [m.name for m in bpy.data.materials],
    "images": [(i.name, list(i.size)) for i in bpy.data.images],
    "uv_layers": [len(o.data.uv_layers) for o in meshes],
    "objects": sorted(o.name for o in meshes),
    "parents": {o.name: o.parent.name for o in meshes if o.parent is not None},
    "quads": sum(1 for o in meshes for p in o.data.polygons if p.loop_total == 4),
    "hidden": sorted(o.name for o in meshes if o.hide_viewport and o.hide_render),
}
if meshes:  # the world-space box of every mesh, in Blender's frame (Z up), as a user would measure it
    corners = [o.matrix_world @ v.co for o in meshes for v in o.data.vertices]
    out["bounds"] = [[min(c[i] for c in corners) for i in range(3)], [max(c[i] for c in corners) for i in range(3)]]
mat = bpy.data.materials[0] if bpy.data.materials else None
if mat and mat.use_nodes:
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    link = bsdf.inputs["Base Color"].links
    out["base_color_from"] = link[0].from_node.type if link else None
    out["metallic"] = bsdf.inputs["Metallic"].default_value
    out["roughness"] = bsdf.inputs["Roughness"].default_value
    for name in ("Metallic", "Roughness"):  # a metallic-roughness texture: Image Texture → Separate RGB/Color → here
        links = bsdf.inputs[name].links
        chain = []
        node = links[0].from_node if links else None
        while node is not None and len(chain) < 4:
            chain.append(node.type)
            inputs = [i for i in node.inputs if i.links]
            node = inputs[0].links[0].from_node if inputs else None
        out[f"{name.lower()}_from"] = chain
    normal = bsdf.inputs["Normal"].links
    if normal:  # Normal Map node ← Image Texture node
        node = normal[0].from_node
        source = node.inputs["Color"].links if "Color" in node.inputs else []
        out["normal_from"] = [node.type, source[0].from_node.type if source else None]
        out["normal_space"] = getattr(node, "space", None)
if "--tangents" in sys.argv and meshes:
    data = meshes[0].data
    data.calc_tangents()
    uv = data.uv_layers.active.data
    out["loops"] = [
        [*data.vertices[loop.vertex_index].co, *uv[i].uv, *loop.tangent, loop.bitangent_sign] for i, loop in enumerate(data.loops)
    ]
print("MESHMILL_REPORT " + json.dumps(out))
