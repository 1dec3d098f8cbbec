"""What catalog reads return: frozen rows, one class per kind of record, whose fields are the one list of what a read
gives (a column added to a read is a field added here).

A row is a frozen dataclass, so code reads ``output.status`` and a type checker knows the fields; it also reads as a
read-only mapping (``output["status"]``, ``{**output}``, ``dict(output)``), so JSON, the web app's templates and the
API serialise it as they would a dict, and it compares equal to the dict of its fields.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog.models import OutputAttempt, Variant


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, ...], frozenset[str]]:
    names = tuple(f.name for f in dataclasses.fields(cls))
    return names, frozenset(names)


class Row(Mapping[str, Any]):
    """A frozen dataclass that also reads as a mapping of its fields (in declaration order)."""

    __slots__ = ()

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return _fields(cls)[0]

    def __getitem__(self, key: str) -> Any:
        if key not in _fields(type(self))[1]:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_fields(type(self))[0])

    def __len__(self) -> int:
        return len(_fields(type(self))[0])


def _row(cls: type) -> type:
    """A frozen dataclass row; equality is the mapping's (a row equals the dict of its fields)."""
    return dataclass(frozen=True, eq=False)(cls)


@_row
class ViewRow(Row):
    """One view of a source object, as ingested."""

    view: str
    content_hash: str
    filename: str
    blob_key: str
    width: int
    height: int
    mode: str
    source_format: str | None
    byte_size: int


@_row
class OutputSummary(Row):
    """An output as a listing shows it (``find(summary=True)``): its state, variant, files and labels."""

    id: int
    status: str
    review: str | None
    variant: str
    blob_keys: dict[str, str | None]
    tags: list[str]
    collections: list[str]


@_row
class OutputRow(Row):
    """An output as its own page shows it: the summary's fields and what the output was made with and of."""

    id: int
    status: str
    error: str | None
    parameters: dict[str, Any]
    model_name: str | None
    model_version: str | None
    face_count: int | None
    vertex_count: int | None
    byte_size: int | None
    timings: dict[str, float]
    licences: dict[str, Any] | None
    views: list[str] | None
    lod_face_counts: list[int] | None
    quad_count: int | None
    dagster_run_id: str | None
    review: str | None
    variant: str
    blob_keys: dict[str, str | None]
    tags: list[str]
    collections: list[str]
    created_at: str
    updated_at: str


@_row
class SourceRecord(Row):
    """A source object with its views, labels and (the selected) outputs."""

    id: int
    content_hash: str
    filename: str
    origin: str | None
    height_m: float | None
    width: int
    height: int
    mode: str
    source_format: str | None
    byte_size: int
    blob_key: str
    created_at: str
    views: list[ViewRow] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    outputs: list[OutputRow | OutputSummary] = field(default_factory=list)


@_row
class OutputDetail(Row):
    """One output and the source object it was made of (with all of that object's outputs)."""

    source: SourceRecord
    output: OutputRow


@_row
class CollectionRow(Row):
    """A collection: how many source objects it holds and how many outputs are made for it."""

    name: str
    images: int
    outputs: int
    created_at: str


@_row
class ReviewRow(Row):
    """One review decision."""

    id: int
    output_id: int
    decision: str
    reviewer: str
    note: str | None
    variant: str | None
    decided_at: str


def table_row(name: str, table: Any, doc: str) -> type[Row]:
    """A row class whose fields are ``table``'s columns: for reads that give a whole row of one table."""
    row = dataclasses.make_dataclass(name, [(column.name, Any) for column in table.columns], bases=(Row,), frozen=True, eq=False)
    row.__doc__ = doc
    return row


VariantRow = table_row("VariantRow", Variant.__table__, "A variant as stored: its name, backend and complete parameters.")
AttemptRow = table_row("AttemptRow", OutputAttempt.__table__, "One materialisation of an output.")

#: the columns of ``output`` each kind of output row reads (its fields, less those built from other tables)
_BUILT = {"variant", "blob_keys", "tags", "collections", "created_at", "updated_at"}
OUTPUT_COLUMNS = tuple(name for name in OutputRow.field_names() if name not in _BUILT)
SUMMARY_COLUMNS = tuple(name for name in OutputSummary.field_names() if name not in _BUILT)
VIEW_COLUMNS = ViewRow.field_names()
SOURCE_COLUMNS = tuple(name for name in SourceRecord.field_names() if name not in {"created_at", "views", "tags", "collections", "outputs"})
