"""What an export of a search holds and what its files are called (`meshmill catalog export`, the web app's download)."""

from __future__ import annotations

import catalog
from orchestration.exports import exported_files


def test_objects_of_one_name_keep_their_own_files_and_a_search_by_tag_files_each_under_its_collection(home):
    engine, blobs = catalog.get_engine(), catalog.blob_store_from_env()
    variant = catalog.define_variant(engine, "mobile", {"backend": "builtin"})
    made = {}
    for n, (collections, tags) in enumerate([(["props"], ["wood"]), (["props"], ["wood"]), ([], ["wood"]), (["props"], [])]):
        source = catalog.record_source(
            engine, content_hash=f"{n:064x}", filename="chest.png", width=64, height=64, mode="RGB", byte_size=1,
            blob_key=f"sources/{n}", collections=collections, tags=tags,
        )  # fmt: skip
        blobs.put(f"outputs/{n}.glb", b"glTF" + bytes([n]), "model/gltf-binary")
        catalog.record_output(engine, source.id, variant, status="succeeded", glb_key=f"outputs/{n}.glb")
        made[source.id] = b"glTF" + bytes([n])

    def exported(**search) -> dict[str, bytes]:  # noqa: ANN003
        return {f.path: f.data for f in exported_files(engine, blobs, ["glb"], **search)}

    props = exported(collection="props")
    ids = sorted(made)
    # newest first: the last object takes the plain name, the two before it are set apart by their ids
    assert props == {
        "props/chest_mobile.glb": made[ids[3]],
        f"props/chest_mobile-{ids[1]}.glb": made[ids[1]],
        f"props/chest_mobile-{ids[0]}.glb": made[ids[0]],
    }
    by_tag = exported(tags=["wood"])
    assert set(by_tag) == {"uncollected/chest_mobile.glb", "props/chest_mobile.glb", f"props/chest_mobile-{ids[0]}.glb"}
    assert by_tag["uncollected/chest_mobile.glb"] == made[ids[2]] and exported(tags=["wood"], collection="nothing") == {}
