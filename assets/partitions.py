"""Partitions: one per source image (key: ``catalog.keys.image_partition_key``, its name and the start of its content
hash, ``duck-98bdb802952779f7``), and one per image × variant for the 3D stages."""

import warnings

import dagster as dg

images = dg.DynamicPartitionsDefinition(name="images")
variants = dg.DynamicPartitionsDefinition(name="variants")
image_variants = dg.MultiPartitionsDefinition({"image": images, "variant": variants})
#: the 3D stages of (image, variant) read the image stages of that image
with warnings.catch_warnings():  # beta in Dagster 1.13, and the mapping this graph needs
    warnings.simplefilter("ignore", dg.BetaWarning)
    by_image = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="image")
