"""Turning a create-want request into a validated, complete ``WantSpec``."""

from __future__ import annotations

import os
import threading
import time

from databuild.errors import InvalidArgumentError
from databuild.proto import databuild_pb2 as pb
from databuild.refs import validate_refs

#: TTL of a want when neither the request nor the graph sets one.
DEFAULT_TTL_SECONDS = 24 * 3600
MAX_WANTS_PER_REQUEST = 10_000
MAX_PARTITIONS_PER_WANT = 10_000
MAX_COMMENT_CHARS = 4096


_last_id = 0
_id_lock = threading.Lock()
_VERSION_AND_VARIANT = (0x7 << 76) | (0x2 << 62)
_RANDOM_BITS = ((1 << 76) - 1) & ~(0x3 << 62)  # everything below the timestamp but version/variant


def new_want_id(now_us: int | None = None) -> str:
    """A UUIDv7 ordered by creation: the millisecond, then randomness made strictly
    increasing within this process, so want lists page in creation order."""
    global _last_id
    ms = (time.time_ns() // 1_000_000) if now_us is None else now_us // 1000
    value = (ms & ((1 << 48) - 1)) << 80 | _VERSION_AND_VARIANT | int.from_bytes(os.urandom(10), "big") & _RANDOM_BITS
    with _id_lock:
        if value <= _last_id:  # same millisecond: count up from the last id, skipping version/variant bits
            value = _last_id + 1
            if value & (0x3 << 62) != (0x2 << 62):
                value = (value & ~(0x3 << 62)) + (1 << 64) | (0x2 << 62)
        _last_id = value
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_want_spec(request: pb.CreateWantRequest, now_us: int, default_ttl: int = 0, default_sla: int = 0,
                  default_source: int = pb.WANT_SOURCE_TYPE_API) -> pb.WantSpec:
    """The want ``request`` describes, with defaults filled in; InvalidArgumentError names a bad value."""
    if not request.partitions:
        raise InvalidArgumentError("a want needs at least one partition")
    if len(request.partitions) > MAX_PARTITIONS_PER_WANT:
        raise InvalidArgumentError(f"a want may name at most {MAX_PARTITIONS_PER_WANT} partitions, "
                                   f"got {len(request.partitions)}")
    partitions = list(dict.fromkeys(validate_refs(request.partitions)))
    external = list(dict.fromkeys(validate_refs(request.external_dependencies)))
    if request.HasField("ttl_seconds") and request.ttl_seconds <= 0:
        raise InvalidArgumentError(f"ttl_seconds must be positive (a want with no time to live could never be "
                                   f"built), got {request.ttl_seconds}; leave it out for the default")
    if request.sla_seconds < 0:
        raise InvalidArgumentError(f"sla_seconds must not be negative, got {request.sla_seconds}")
    if len(request.comment) > MAX_COMMENT_CHARS:
        raise InvalidArgumentError(f"comment is {len(request.comment)} characters; at most {MAX_COMMENT_CHARS}")
    spec = pb.WantSpec(
        want_id=new_want_id(now_us), partitions=partitions, external_dependencies=external,
        ttl_seconds=request.ttl_seconds if request.HasField("ttl_seconds") else default_ttl or DEFAULT_TTL_SECONDS,
        sla_seconds=request.sla_seconds or default_sla, comment=request.comment,
    )
    spec.created_at.FromMicroseconds(now_us)
    if request.HasField("data_timestamp"):
        spec.data_timestamp.CopyFrom(request.data_timestamp)
    else:
        spec.data_timestamp.FromMicroseconds(now_us)
    spec.source.CopyFrom(request.source)
    if not spec.source.type:
        spec.source.type = default_source
    return spec
