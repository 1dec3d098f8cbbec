"""Image partition keys: readable in the Dagster UI by the object's name, found by the hash they end with."""

from __future__ import annotations

import pytest


def test_an_image_partition_key_reads_as_its_name_and_is_found_by_its_hash(home):
    import dagster as dg

    import catalog
    from catalog.keys import hash_prefix_of, image_partition_key
    from orchestration.consistency import check

    h = "0123456789abcdef" * 4
    assert image_partition_key(h, "Rubber Duck_v2.png") == "rubber-duck-v2-0123456789abcdef"
    assert image_partition_key(h, "toy") == "toy-0123456789abcdef" and image_partition_key(h, "玩具.png") == "object-0123456789abcdef"
    assert hash_prefix_of("rubber-duck-v2-0123456789abcdef") == hash_prefix_of("0123456789abcdef") == "0123456789abcdef"
    with pytest.raises(ValueError, match="not an image partition key"):
        hash_prefix_of("duck")
    engine, blobs = catalog.get_engine(), catalog.blob_store_from_env()
    catalog.record_source(engine, content_hash=h, filename="duck.png", width=8, height=8, mode="RGB", byte_size=1, blob_key="k")
    assert catalog.partition_keys(engine, [h, "f" * 64]) == {h: "duck-0123456789abcdef"}  # the uncatalogued has none
    assert catalog.source_by_partition_key(engine, "duck-0123456789abcdef")["filename"] == "duck.png"
    # a partition made before keys carried names is named as that by `catalog check`, and --repair removes it
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("images", ["0123456789abcdef", "duck-0123456789abcdef"])
    (old,) = [f for f in check(instance, engine, blobs, grace=0).findings if f.kind == "partition_without_source"]
    assert old.subject == "images/0123456789abcdef" and "it is duck-0123456789abcdef now" in old.detail
    check(instance, engine, blobs, repair=True, grace=0)
    assert instance.get_dynamic_partitions("images") == ["duck-0123456789abcdef"]


def test_an_output_partition_key_is_dagsters_own_key_of_its_image_and_variant():
    """The one home of the 3D assets' partition keys writes them as Dagster does, so a key built there names the
    partition a sensor's ``MultiPartitionKey`` or the UI names."""
    import dagster as dg

    from catalog.keys import output_partition_key, split_output_partition_key

    key = output_partition_key("duck-0123456789abcdef", "mobile-seed1")
    assert key == str(dg.MultiPartitionKey({"variant": "mobile-seed1", "image": "duck-0123456789abcdef"}))
    assert split_output_partition_key(key) == ("duck-0123456789abcdef", "mobile-seed1")
    assert split_output_partition_key("duck-0123456789abcdef") == ("duck-0123456789abcdef", "")
