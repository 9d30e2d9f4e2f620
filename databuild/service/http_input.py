"""Reading an HTTP request into its operation's request message, within limits.

Path parameters, the query string (typed by the request message's fields) and the
JSON body (counted as it arrives, its nesting checked before parsing) become one
JSON document of the contract, parsed by ``proto/jsonmap.py``. Every problem is an
InvalidArgumentError or TooLargeError naming the value.
"""

from __future__ import annotations

import json
import math
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from starlette.requests import Request

from databuild.errors import InvalidArgumentError, TooLargeError
from databuild.proto.jsonmap import parse_dict
from databuild.service.interface import Operation

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)


class InvalidBodyError(InvalidArgumentError):
    """A request body that is not JSON, nests too deep or does not fit the operation."""

    code = "invalid_body"


def json_depth_ok(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` nests arrays and objects at most ``limit`` deep (one linear scan, strings skipped)."""
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def parse_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    if not json_depth_ok(body):
        raise InvalidBodyError(f"request body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as e:
        raise InvalidBodyError(f"request body is not valid JSON: {e}") from None


def _scalar(field: FieldDescriptor, name: str, text: str) -> Any:
    """A query-string value as the JSON value of its field, range-checked."""
    F = FieldDescriptor
    if field.type in (F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_SINT64, F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_UINT32):
        low, high = INT64 if field.type in (F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_SINT64) else INT32
        try:
            value = int(text)
        except ValueError:
            raise InvalidArgumentError(f"query parameter {name} must be an integer, got {text!r}") from None
        if not low <= value <= high:
            raise InvalidArgumentError(f"query parameter {name} is out of range: {text}")
        return value
    if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise InvalidArgumentError(f"query parameter {name} must be a number, got {text!r}")
        return value
    if field.type == F.TYPE_BOOL:
        if text.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgumentError(f"query parameter {name} must be true or false, got {text!r}")
        return text.lower() in ("true", "1")
    return text


def query_document(op: Operation, items: list[tuple[str, str]]) -> dict:
    """The query string as a JSON document of ``op``'s request (repeated fields: repeat or comma-separate)."""
    fields = op.request.DESCRIPTOR.fields_by_name
    doc: dict[str, Any] = {}
    for parameter, text in items:
        name = op.field_name(parameter)
        field = fields.get(name)
        if field is None or name in op.path_fields or (name != parameter) != (name in op.aliases):
            raise InvalidArgumentError(f"unknown query parameter {parameter!r}")
        if field.is_repeated:
            doc.setdefault(name, []).extend(_scalar(field, parameter, t) for t in text.split(",") if t)
        elif name in doc:
            raise InvalidArgumentError(f"query parameter {parameter} is given more than once")
        else:
            doc[name] = _scalar(field, parameter, text)
    return doc


async def read_body(request: Request) -> bytes:
    """The body, refused as soon as more than MAX_BODY_BYTES arrived (chunked bodies included)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise TooLargeError(f"request body of {declared} bytes is over the limit of {MAX_BODY_BYTES}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLargeError(f"request body is over the limit of {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def request_message(op: Operation, request: Request) -> tuple[Message, bool]:
    """``op``'s request message from path, query and body; and whether a batch body was one element."""
    if op.query:
        doc = query_document(op, request.query_params.multi_items())
    else:
        if request.query_params:
            raise InvalidArgumentError(f"{op.method} {op.path} takes no query parameters; send a JSON body")
        doc = parse_body(await read_body(request))
    single = bool(op.batch_field) and isinstance(doc, dict) and op.batch_field not in doc
    if single:
        doc = {op.batch_field: [doc]}
    if not isinstance(doc, dict):
        raise InvalidBodyError(f"request body must be a JSON object, got {type(doc).__name__}")
    for name in op.path_fields:
        if name in doc:
            raise InvalidBodyError(f"{name} belongs in the path, not the body")
        doc[name] = request.path_params[name]
    return parse_dict(doc, op.request()), single
