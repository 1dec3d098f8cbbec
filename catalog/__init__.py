"""The Meshmill catalog: what was ingested and generated, with labels, parameters and blob keys."""

from catalog.blobs import BlobError, BlobNotFound, BlobStore, LocalBlobStore, S3BlobStore, blob_store_from_env
from catalog.db import dispose_engines, get_engine, make_engine, migrate
from catalog.labels import LabelError, normalise_label
from catalog.models import OutputStatus
from catalog.queries import (
    edit_labels,
    find,
    list_collections,
    list_variants,
    output_detail,
    output_files,
    show,
    source_files,
    source_by_hash_prefix,
    variant_by_name,
)
from catalog.records import (
    CatalogError,
    NewSource,
    attempts_of,
    define_variant,
    finish_attempt,
    label_source,
    note_stage_timings,
    record_output,
    record_source,
    record_sources,
    running_attempt,
    source_id_by_hash,
    start_attempt,
)

__all__ = [
    "BlobError", "BlobNotFound", "BlobStore", "CatalogError", "NewSource", "attempts_of", "finish_attempt", "start_attempt", "LabelError", "LocalBlobStore", "OutputStatus",
    "S3BlobStore", "blob_store_from_env", "define_variant", "dispose_engines", "edit_labels", "find", "get_engine",
    "label_source", "list_collections", "list_variants", "make_engine", "migrate", "normalise_label", "note_stage_timings", "output_detail", "output_files", "source_files", "record_output",
    "record_source", "record_sources", "running_attempt", "show", "source_by_hash_prefix", "variant_by_name", "source_id_by_hash",
]  # fmt: skip
