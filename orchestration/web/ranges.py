"""Byte ranges of downloads (RFC 9110 §14): a browser resuming a large GLB, a viewer reading a file's head.

One range is served (206, ``Content-Range``); a header asking for several, or one that cannot be parsed, is ignored
and the whole file sent, as the RFC allows; a range wholly past the end is refused (416). There is no validator
(no ETag), so ``If-Range`` is not honoured: a client resuming across a re-made output gets the new file's bytes.
"""

from __future__ import annotations

import re

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class Unsatisfiable(ValueError):
    """The range lies wholly past the end of the body."""


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range (first, last, both inclusive) a ``Range`` header asks of a body of ``size`` bytes;
    None: send it whole. Raises ``Unsatisfiable`` for a range that starts at or past the end."""
    match = _RANGE.fullmatch((header or "").replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # "-N": the last N bytes
        if int(last) == 0:
            raise Unsatisfiable(header)
        return max(0, size - int(last)), size - 1
    if int(first) >= size:
        raise Unsatisfiable(header)
    end = size - 1 if not last else min(int(last), size - 1)
    return (int(first), end) if end >= int(first) else None
