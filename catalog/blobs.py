"""Blob storage: one interface, a local folder or any S3 (MinIO SDK) behind it.

Keys are relative, slash-separated paths such as ``sources/ab/abcd….png``. Writes are atomic: a
reader sees the old object or the whole new one, never a part.
"""

from __future__ import annotations

import errno
import hashlib
import io
import mimetypes
import os
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from time import monotonic, sleep
from typing import NamedTuple, Protocol, TypeVar

import urllib3
from minio import Minio
from minio.error import S3Error

from catalog.config import meshmill_home

T = TypeVar("T")

_KEY_PART = re.compile(r"^[A-Za-z0-9._=+-]+$")
mimetypes.add_type("model/gltf-binary", ".glb")
mimetypes.add_type("model/obj", ".obj")


#: how a local write's temporary file's name begins; this host's name as such a name carries it (letters, digits)
TEMPORARY = ".tmp-"
_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname()) or "host"


def temporary_name() -> str:
    """The name of a local write's temporary file: ``.tmp-HOST-PID-RANDOM``. It names the writing host and
    process, so that a check run after a crash can tell at once a write whose process is gone from one in flight."""
    return f"{TEMPORARY}{_HOST}-{os.getpid()}-{uuid.uuid4().hex}"


def is_temporary(key: str) -> bool:
    """Whether ``key`` (or a file name) is a local write's temporary file, not a blob."""
    return key.rsplit("/", 1)[-1].startswith(TEMPORARY)


def write_abandoned(key: str) -> bool:
    """Whether ``key`` is the temporary file of a write whose process is gone: named by :func:`temporary_name` on
    this host for a process that no longer exists. Another host's file, or a name of an older Meshmill (no host, no
    process), says nothing: only its age can (the checker's grace period)."""
    parts = key.rsplit("/", 1)[-1].removeprefix(TEMPORARY).rsplit("-", 2)
    if not is_temporary(key) or len(parts) != 3 or parts[0] != _HOST or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except (ProcessLookupError, OverflowError):  # no such process; no process can have that number
        return True
    except PermissionError:  # another user's process, alive
        pass
    return False


class BlobError(Exception):
    """A blob store operation failed; the message names the key and the store."""


class BlobNotFound(BlobError, KeyError):
    pass


class BlobStoreUnreachable(BlobError, ConnectionError):
    """The store did not answer (down, or the network): transient, worth trying again."""


class BlobStoreRefused(BlobError, PermissionError):
    """The store answered no: wrong credentials, no access to the bucket. Trying again does not help."""


#: S3 error codes that mean "these credentials may not do that"
_REFUSED = {"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "InvalidToken", "ExpiredToken", "AllAccessDisabled"}
_NOT_FOUND = {"NoSuchKey", "NoSuchObject", "NotFound"}


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise ValueError naming it."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or not _KEY_PART.match(p) for p in parts):
        raise ValueError(f"invalid blob key {key!r}: use relative paths of letters, digits and ._=+-")
    return key


def guess_content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    content_type: str
    modified: float | None = None  # seconds since the epoch, where the store said


class Digest(NamedTuple):
    """What a blob held when it was written: its size and the sha256 of its bytes."""

    byte_size: int
    sha256: str

    @classmethod
    def of(cls, data: bytes) -> Digest:
        return cls(len(data), hashlib.sha256(data).hexdigest())


class BlobStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str | None = None) -> BlobInfo: ...
    def get(self, key: str) -> bytes: ...
    def stat(self, key: str) -> BlobInfo: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str = "") -> Iterator[str]: ...
    def scan(self, prefix: str = "", *, unfinished: bool = False) -> Iterator[BlobInfo]: ...
    def url(self, key: str) -> str: ...
    def describe(self) -> str: ...


class LocalBlobStore:
    """Blobs as files under ``root``; content types follow the key's extension."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        return f"folder {self.root}"

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str | None = None) -> BlobInfo:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # a name of our own rather than mkstemp's, whose file is 0600: a blob gets the mode the umask allows
        tmp = target.parent / temporary_name()
        try:
            with open(tmp, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return BlobInfo(key, len(data), content_type or guess_content_type(key))

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"blob {key!r} not found in {self.describe()}") from None

    def stat(self, key: str) -> BlobInfo:
        try:
            size = self.path(key).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(f"blob {key!r} not found in {self.describe()}") from None
        return BlobInfo(key, size, guess_content_type(key))

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[str]:
        return (info.key for info in self.scan(prefix))

    def scan(self, prefix: str = "", *, unfinished: bool = False) -> Iterator[BlobInfo]:
        """Every blob under ``prefix`` with its size and time; ``unfinished``: also the temporary files of writes
        that never ended (a process killed mid-write), which only ``delete`` should be given."""
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or (is_temporary(path.name) and not unfinished):
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                info = path.stat()
                yield BlobInfo(key, info.st_size, guess_content_type(key), info.st_mtime)

    def url(self, key: str) -> str:
        return self.path(key).as_uri()


class S3BlobStore:
    """Blobs in an S3 bucket through the MinIO SDK (MinIO, AWS S3, SeaweedFS, Ceph, …)."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        prefix: str = "",
        secure: bool = True,
        region: str | None = None,
        create_bucket: bool = True,
        retry_for: float = 0.0,
    ):
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region)
        self.endpoint = endpoint
        #: seconds an operation goes on trying while the server does not answer (a restart, a network blip): the
        #: pipeline's stores wait out an outage this long; a command's store answers at once (0)
        self.retry_for = retry_for
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        if create_bucket:
            with self._answering("opening the bucket"):
                exists = self.client.bucket_exists(bucket)
            if not exists:
                try:
                    self.client.make_bucket(bucket)
                except S3Error as exc:  # another process may have made it a moment ago
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        with self._answering("making the bucket"):
                            raise

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix} at {self.endpoint}"

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _missing(self, key: str) -> BlobNotFound:
        return BlobNotFound(f"blob {key!r} not found in {self.describe()}")

    @contextmanager
    def _answering(self, doing: str, key: str = "") -> Iterator[None]:
        """S3 and network errors as BlobErrors that say what was being done, where, and whether to try again.
        (minio's S3Error also refuses attributes that other libraries set on an exception in flight.)"""
        what = f"{doing} {key!r} in " if key else f"{doing} "
        try:
            yield
        except S3Error as exc:
            if exc.code in _NOT_FOUND and key:
                raise self._missing(key) from None
            detail = f"{exc.code}: {exc.message}" if exc.message else str(exc.code)
            if exc.code in _REFUSED:
                raise BlobStoreRefused(
                    f"{what}{self.describe()}: refused ({detail}); check MESHMILL_S3_ACCESS_KEY and MESHMILL_S3_SECRET_KEY"
                ) from None
            raise BlobError(f"{what}{self.describe()}: {detail}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise BlobStoreUnreachable(f"{what}{self.describe()}: the server did not answer ({first_line(reason)[:200]})") from None

    def _patiently(self, doing: str, key: str, operation: Callable[[], T]) -> T:
        """``operation()`` as ``_answering`` reports it, tried again while the server does not answer, for
        ``retry_for`` seconds in all (waits of 1, 2, 4 … 15 s); then the last 'did not answer', saying how long."""
        started, wait = monotonic(), 1.0
        while True:
            try:
                with self._answering(doing, key):
                    return operation()
            except BlobStoreUnreachable as exc:
                waited = monotonic() - started
                if waited + wait > self.retry_for:
                    if self.retry_for:
                        raise BlobStoreUnreachable(f"{exc} (tried for {waited:.0f} s)") from None
                    raise
                sleep(wait)
                wait = min(wait * 2, 15.0)

    def put(self, key: str, data: bytes, content_type: str | None = None) -> BlobInfo:
        content_type = content_type or guess_content_type(key)
        name = self._name(key)
        self._patiently(
            "writing", key, lambda: self.client.put_object(self.bucket, name, io.BytesIO(data), len(data), content_type=content_type)
        )
        return BlobInfo(key, len(data), content_type)

    def get(self, key: str) -> bytes:
        def read() -> bytes:
            response = self.client.get_object(self.bucket, self._name(key))
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return self._patiently("reading", key, read)

    def stat(self, key: str) -> BlobInfo:
        obj = self._patiently("looking up", key, lambda: self.client.stat_object(self.bucket, self._name(key)))
        modified = obj.last_modified.timestamp() if obj.last_modified else None
        return BlobInfo(key, obj.size or 0, obj.content_type or guess_content_type(key), modified)

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except BlobNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        self._patiently("removing", key, lambda: self.client.remove_object(self.bucket, self._name(key)))

    def list(self, prefix: str = "") -> Iterator[str]:
        return (info.key for info in self.scan(prefix))

    def scan(self, prefix: str = "", *, unfinished: bool = False) -> Iterator[BlobInfo]:
        """Every blob under ``prefix`` with its size and time (an S3 PUT is whole or absent: nothing is unfinished)."""
        with self._answering("listing", prefix or "/"):
            for obj in self.client.list_objects(self.bucket, prefix=self.prefix + prefix, recursive=True):
                key = obj.object_name[len(self.prefix) :]
                modified = obj.last_modified.timestamp() if obj.last_modified else None
                yield BlobInfo(key, obj.size or 0, guess_content_type(key), modified)

    def url(self, key: str) -> str:
        """A presigned GET URL, valid for a day, that a browser or viewer can load."""
        return self.client.presigned_get_object(self.bucket, self._name(key), expires=timedelta(days=1))


def disk_full(error: BaseException) -> str | None:
    """An OSError ENOSPC/EDQUOT (naming its file), or SQLite's "database or disk is full" however it is wrapped:
    what it is called (None: not a full disk)."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        written = error.filename2 or error.filename  # a copy names its source first, and the file it was writing second
        where = f" writing {written}" if written else ""
        return f"no space left on the device{where}: free some and run it again"
    if "database or disk is full" in str(error).split("\n", 1)[0]:
        return "no space left for the catalog or Dagster's storage (database or disk is full): free some and run it again"
    return None


def first_line(error: object) -> str:
    """The first line of an error's message (drivers go on with SQL, parameters, request dumps), or its type's name."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={value!r}: expected true or false")


#: how long the pipeline's blob store waits out a store that does not answer before a partition fails
DEFAULT_STORE_RETRY_SECONDS = 120.0


def store_retry_seconds() -> float:
    """``$MESHMILL_STORE_RETRY_SECONDS``: how long the pipeline's stages go on trying a store that does not answer."""
    value = os.environ.get("MESHMILL_STORE_RETRY_SECONDS", "")
    try:
        seconds = float(value) if value else DEFAULT_STORE_RETRY_SECONDS
    except ValueError:
        raise ValueError(f"MESHMILL_STORE_RETRY_SECONDS={value!r}: expected seconds, e.g. 120") from None
    if not 0 <= seconds <= 86_400:
        raise ValueError(f"MESHMILL_STORE_RETRY_SECONDS={value!r}: expected 0 to 86400 seconds")
    return seconds


def blob_store_from_env(*, retry_for: float = 0.0) -> BlobStore:
    """S3 when ``MESHMILL_S3_ENDPOINT`` is set, else the folder ``$MESHMILL_HOME/blobs``. ``retry_for``: seconds an S3
    operation goes on trying while the server does not answer (the pipeline passes ``store_retry_seconds()``)."""
    endpoint = os.environ.get("MESHMILL_S3_ENDPOINT")
    if not endpoint:
        return LocalBlobStore(os.environ.get("MESHMILL_BLOB_DIR") or meshmill_home() / "blobs")
    missing = [n for n in ("MESHMILL_S3_ACCESS_KEY", "MESHMILL_S3_SECRET_KEY") if not os.environ.get(n)]
    if missing:
        raise BlobError(f"MESHMILL_S3_ENDPOINT is set but {', '.join(missing)} is not")
    secure = _env_flag("MESHMILL_S3_SECURE", True)
    if "://" in endpoint:  # accept a URL too: its scheme decides TLS
        scheme, _, endpoint = endpoint.partition("://")
        secure = scheme == "https"
        endpoint = endpoint.rstrip("/")
    return S3BlobStore(
        endpoint,
        os.environ["MESHMILL_S3_ACCESS_KEY"],
        os.environ["MESHMILL_S3_SECRET_KEY"],
        os.environ.get("MESHMILL_S3_BUCKET", "meshmill"),
        prefix=os.environ.get("MESHMILL_S3_PREFIX", ""),
        secure=secure,
        region=os.environ.get("MESHMILL_S3_REGION") or None,
        retry_for=retry_for,
    )
