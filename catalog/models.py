"""The catalog's tables.

Tags and collections are *labels*. A label can sit on a source image or on one of its outputs; the
link row always carries the source image id, so "images labelled T (on themselves or any output)"
is one index range scan on ``(tag_id, source_image_id)`` — the query studios run all day.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, ForeignKey, Index, Integer, Table, Text, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_utc(value: Any) -> Any:
    """A stored time as ISO 8601 with its zone (SQLite hands timestamps back without it; every stored time is UTC);
    anything else as it is."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


def _timestamp(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False, **kwargs)


#: the largest id the catalog's keys hold: they are SQL INTEGER, 32-bit on PostgreSQL (64 on SQLite, which never
#: gets that far), so a larger id names nothing, and asking PostgreSQL for one would be an error, not "not found"
MAX_ID = 2**31 - 1


class OutputStatus(str, enum.Enum):
    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class SourceImage(SQLModel, table=True):
    """A source object: one to four pictures of it (``SourceView``), with the labels and outputs of the object.

    The picture columns (file name aside) are the front view's, which cards show. ``content_hash`` is
    the front's own for an object of one front view, so a single image keeps the identity it always
    had; an object of several views is named by the hash of its views' hashes (``catalog.keys``).
    """

    __tablename__ = "source_image"

    id: int | None = Field(default=None, primary_key=True)
    content_hash: str = Field(max_length=64, unique=True, description="sha256 of the file as ingested")
    filename: str = Field(max_length=512, description="original file name (a view set's name), for people; never a key")
    origin: str | None = Field(default=None, max_length=200, description="style model or tool that made it")
    height_m: float | None = Field(default=None, description="the object's real height in metres, where the studio said it")
    width: int
    height: int
    mode: str = Field(max_length=8, description="stored pixel mode: RGB or RGBA")
    source_format: str | None = Field(default=None, max_length=16, description="format of the original file")
    byte_size: int = Field(sa_type=BigInteger, description="size of the original file")
    blob_key: str = Field(max_length=512)
    created_at: datetime = _timestamp()


class SourceView(SQLModel, table=True):
    """One stored picture of a source object, in the view convention (front, left, back, right)."""

    __tablename__ = "source_view"
    __table_args__ = (
        Index("uq_source_view", "source_image_id", "view", unique=True),
        # is a picture still some object's view? (before its blob may be removed)
        Index("ix_source_view_hash", "content_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_image_id: int = Field(sa_column=Column(Integer, ForeignKey("source_image.id", ondelete="CASCADE"), nullable=False))
    view: str = Field(max_length=8)
    content_hash: str = Field(max_length=64, description="sha256 of the view's file as ingested")
    filename: str = Field(max_length=512)
    width: int
    height: int
    mode: str = Field(max_length=8)
    source_format: str | None = Field(default=None, max_length=16)
    byte_size: int = Field(sa_type=BigInteger)
    blob_key: str = Field(max_length=512)


class BlobDigest(SQLModel, table=True):
    """What a blob the catalog refers to held when it was written: its size and sha256, for ``catalog check``
    (sizes always, contents with ``--deep``). A blob written again (an output made again) gets its new digest."""

    __tablename__ = "blob_digest"

    key: str = Field(max_length=512, primary_key=True)
    byte_size: int = Field(sa_type=BigInteger)
    sha256: str = Field(max_length=64)
    written_at: datetime = _timestamp()


class Tag(SQLModel, table=True):
    __tablename__ = "tag"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)


class Collection(SQLModel, table=True):
    __tablename__ = "collection"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    created_at: datetime = _timestamp()


class Variant(SQLModel, table=True):
    """A named, stored set of generation parameters; one output per source image × variant.

    ``params`` holds every generation parameter as resolved when the variant was defined: reading a variant never
    applies a preset again. The columns beside it are copies for listing and filtering. ``extra`` held the settings
    without a column before migration 0009; it is read once, to fill ``params`` of a variant made before then."""

    __tablename__ = "variant"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    backend: str = Field(max_length=64)
    preset: str | None = Field(default=None, max_length=32)
    steps: int | None = None
    guidance: float | None = None
    target_faces: int | None = None
    seed: int | None = None
    texture_size: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    params: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _timestamp()


class Output(SQLModel, table=True):
    """The result of converting one source object with one variant."""

    __tablename__ = "output"
    __table_args__ = (
        Index("uq_output_source_variant", "source_image_id", "variant_id", unique=True),
        Index("ix_output_variant_status", "variant_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_image_id: int = Field(sa_column=Column(Integer, ForeignKey("source_image.id", ondelete="CASCADE"), nullable=False))
    variant_id: int = Field(sa_column=Column(Integer, ForeignKey("variant.id"), nullable=False))
    status: str = Field(default=OutputStatus.pending.value, max_length=16)
    error: str | None = Field(default=None, sa_column=Column(Text))
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    model_name: str | None = Field(default=None, max_length=128)
    model_version: str | None = Field(default=None, max_length=128)
    face_count: int | None = None
    vertex_count: int | None = None
    byte_size: int | None = Field(default=None, sa_type=BigInteger)
    glb_key: str | None = Field(default=None, max_length=512)
    obj_key: str | None = Field(default=None, max_length=512)
    preview_key: str | None = Field(default=None, max_length=512)
    timings: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: per role (shape, upscaler, background): the model and its licence terms; NULL where not recorded
    licences: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    #: the views the output was made from (a backend takes the ones it can use); NULL until one is made
    views: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    #: faces of each further level of detail (the GLB's MSFT_lod levels 1 …); NULL where the variant has none
    lod_face_counts: list[int] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    #: quads of a quad retopology (``face_count`` counts its triangles); NULL where the mesh is triangles
    quad_count: int | None = None
    #: the blob of each further format the output is written as ({"fbx": key, "usdz": key, …}; a format of several
    #: files, OBJ or USDC, as a zip); NULL where only the GLB (and ``obj_key``) were written
    format_keys: dict[str, str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    dagster_run_id: str | None = Field(default=None, max_length=64)
    #: while running: when the run making it last said it was still at work (``catalog.claims``); a running output
    #: whose heartbeat is older than the claim's lease was left by a process that stopped
    heartbeat_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    #: the latest review decision (``ReviewDecision``: approved or rejected); NULL until someone reviews it
    review: str | None = Field(default=None, max_length=16)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class ReviewDecision(str, enum.Enum):
    """What a reviewer said of an output: approved or rejected it, or asked for it again (with another seed or as
    another variant)."""

    approved = "approved"
    rejected = "rejected"
    remake = "remake"


class Review(SQLModel, table=True):
    """One decision on an output, by whom and when; the output keeps its latest approval or rejection in ``review``."""

    __tablename__ = "review"
    __table_args__ = (Index("ix_review_output", "output_id"),)

    id: int | None = Field(default=None, primary_key=True)
    output_id: int = Field(sa_column=Column(Integer, ForeignKey("output.id", ondelete="CASCADE"), nullable=False))
    decision: str = Field(max_length=16)
    reviewer: str = Field(max_length=128)
    note: str | None = Field(default=None, sa_column=Column(Text))
    #: for a remake: the variant asked for (a new one with another seed, or one that exists)
    variant: str | None = Field(default=None, max_length=64)
    decided_at: datetime = _timestamp()


class OutputAttempt(SQLModel, table=True):
    """One materialisation of an output; re-running keeps the earlier attempts."""

    __tablename__ = "output_attempt"
    __table_args__ = (Index("uq_output_attempt", "output_id", "attempt", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    output_id: int = Field(sa_column=Column(Integer, ForeignKey("output.id", ondelete="CASCADE"), nullable=False))
    attempt: int
    status: str = Field(max_length=16)
    error: str | None = Field(default=None, sa_column=Column(Text))
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: the model that made this attempt's shape (None: the attempt made no shape, e.g. re-texturing only)
    model_name: str | None = Field(default=None, max_length=128)
    model_version: str | None = Field(default=None, max_length=128)
    timings: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    dagster_run_id: str | None = Field(default=None, max_length=64)
    started_at: datetime = _timestamp()
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


def _label_link_table(name: str, label_table: str) -> Table:
    """A link from a label (tag or collection) to a source image, or to one of its outputs."""
    label = f"{label_table}_id"
    return Table(
        name,
        SQLModel.metadata,
        Column("id", Integer, primary_key=True),
        Column(label, Integer, ForeignKey(f"{label_table}.id", ondelete="CASCADE"), nullable=False),
        Column("source_image_id", Integer, ForeignKey("source_image.id", ondelete="CASCADE"), nullable=False),
        Column("output_id", Integer, ForeignKey("output.id", ondelete="CASCADE"), nullable=True),
        Index(f"ix_{name}_label_source", label, "source_image_id"),
        Index(f"ix_{name}_source", "source_image_id"),
        # the labels of one output, looked up when describing a page of results
        Index(f"ix_{name}_output", "output_id", sqlite_where=text("output_id IS NOT NULL"), postgresql_where=text("output_id IS NOT NULL")),
        # At most one row per label on an image (output_id NULL) and one per label on an output.
        Index(
            f"uq_{name}_on_image",
            label,
            "source_image_id",
            unique=True,
            sqlite_where=text("output_id IS NULL"),
            postgresql_where=text("output_id IS NULL"),
        ),
        Index(
            f"uq_{name}_on_output",
            label,
            "output_id",
            unique=True,
            sqlite_where=text("output_id IS NOT NULL"),
            postgresql_where=text("output_id IS NOT NULL"),
        ),
    )


image_tag = _label_link_table("image_tag", "tag")
collection_member = _label_link_table("collection_member", "collection")
