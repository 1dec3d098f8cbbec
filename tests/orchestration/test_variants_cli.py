"""`meshmill variant remove`, a mistyped variant, and the outputs as `catalog find` lists them."""

from __future__ import annotations

import json

import dagster as dg
from dagster._core.instance.ref import InstanceRef

import catalog
from catalog.keys import glb_key, mesh_key, preview_key
from tests.support import meshmill, scrubbed_env


def test_a_variant_is_removed_with_its_outputs_only_when_asked_and_a_typo_lists_the_variants(home, tmp_path):
    env = scrubbed_env(home, DAGSTER_HOME=str(tmp_path / "dagster"))
    meshmill(env, "variant", "add", "mobile", "--preset", "mobile")
    meshmill(env, "variant", "add", "hero", "--preset", "hero")
    engine, blobs = catalog.get_engine(), catalog.blob_store_from_env()
    hashes, outputs = [f"{n:064x}" for n in (1, 2)], []
    mobile = catalog.variant_by_name(engine, "mobile")["id"]
    for h in hashes:
        source = catalog.record_source(engine, content_hash=h, filename=f"{h[-1]}.png", width=64, height=64, mode="RGB",
                                       byte_size=1, blob_key=f"sources/{h}")  # fmt: skip
        for key in (glb_key(h, "mobile"), mesh_key(h, "mobile"), preview_key(h, "mobile"), f"outputs/{h}/mobile/model.fbx"):
            blobs.put(key, b"x")
        outputs.append(catalog.record_output(engine, source.id, mobile, status="succeeded", glb_key=glb_key(h, "mobile"),
                                             format_keys={"fbx": f"outputs/{h}/mobile/model.fbx"}))  # fmt: skip

    listed = meshmill(env, "catalog", "find").stdout
    assert "2 source objects" in listed and all(f"#{o} mobile:succeeded" in listed for o in outputs)  # ids as the web app's
    # one id system: an output's id (as find lists it and the web app takes it) labels and shows that output
    tagged = meshmill(env, "catalog", "tag", "--output", str(outputs[0]), "--add", "approved")
    assert "(mobile) tags: approved" in tagged.stdout
    (record,) = catalog.find(engine, tags=["approved"])
    assert [o["tags"] for o in record["outputs"]] == [["approved"]] and record["tags"] == []
    shown = json.loads(meshmill(env, "catalog", "show", "--output", str(outputs[0]), "--json").stdout)
    assert shown["id"] == record["id"]
    both = meshmill(env, "catalog", "collect", str(record["id"]), "--output", str(outputs[0]), "--add", "x", check=False)
    assert both.returncode == 2 and "not both" in both.stderr
    nowhere = meshmill(env, "catalog", "tag", "--output", "99999", "--add", "x", check=False)
    assert nowhere.returncode == 1 and "output 99999 does not exist" in nowhere.stderr
    typo = meshmill(env, "convert", str(tmp_path), "--variant", "mobil", check=False)
    assert typo.returncode == 2 and "no variant 'mobil': the variants are hero, mobile; did you mean 'mobile'?" in typo.stderr

    refused = meshmill(env, "variant", "remove", "mobile", check=False)
    assert refused.returncode == 2 and "variant 'mobile' has 2 outputs: pass --with-outputs" in refused.stderr
    assert len(catalog.find(engine, variant="mobile")) == 2 and all(blobs.exists(glb_key(h, "mobile")) for h in hashes)

    removed = meshmill(env, "variant", "remove", "mobile", "--with-outputs")
    assert "removed variant mobile and its 2 outputs" in removed.stdout
    assert [v["name"] for v in catalog.list_variants(engine)] == ["hero"]
    assert [r["outputs"] for r in catalog.find(engine)] == [[], []] and list(blobs.list("outputs/")) == []
    assert list(blobs.list("meshes/")) == []
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "dagster")))
    assert instance.get_dynamic_partitions("variants") == ["hero"]
    assert "removed variant hero" in meshmill(env, "variant", "remove", "hero").stdout  # no outputs: nothing to ask
    gone = meshmill(env, "variant", "remove", "hero", check=False)
    assert gone.returncode == 2 and "no variant 'hero': no variant is defined yet" in gone.stderr
