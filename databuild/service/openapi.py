"""The OpenAPI 3.1 document of the HTTP API, derived from the operations and the proto.

Schemas follow the JSON contract (``proto/jsonmap.py``): short enum names, 64-bit
integers as numbers, flattened want documents, every field of a response present.
Request bodies admit no unknown fields, as the service does.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

import databuild
from databuild.proto import databuild_pb2 as pb
from databuild.proto.jsonmap import FLATTENED, enum_choices, enum_name
from databuild.service.interface import OPERATIONS, Operation

F = FieldDescriptor
_INTEGERS = {
    F.TYPE_INT64: (-(2**63), 2**63 - 1), F.TYPE_SINT64: (-(2**63), 2**63 - 1), F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1), F.TYPE_FIXED64: (0, 2**64 - 1),
    F.TYPE_INT32: (-(2**31), 2**31 - 1), F.TYPE_SINT32: (-(2**31), 2**31 - 1), F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    F.TYPE_UINT32: (0, 2**32 - 1), F.TYPE_FIXED32: (0, 2**32 - 1),
}
#: Error statuses every operation may answer with, and when the others apply.
_ERRORS = {
    "400": "bad input: the message names the value", "403": "the Host is not a loopback name (loopback bind)",
    "404": "an id or ref names nothing known, or no such route", "503": "storage or the service is unavailable",
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


class _Schemas:
    """Collects component schemas for the message types the operations reach."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def message(self, descriptor: Descriptor, response: bool, skip: tuple[str, ...] = (), name: str = "") -> dict:
        name = name or descriptor.name
        if name not in self.components:
            self.components[name] = {}  # placeholder: recursion ends here
            properties, required = self._properties(descriptor, response, skip)
            schema: dict[str, Any] = {"type": "object", "properties": properties}
            if response:
                schema["required"] = sorted(required)
            else:
                schema["additionalProperties"] = False
            self.components[name] = schema
        return _ref(name)

    def _properties(self, descriptor: Descriptor, response: bool, skip: tuple[str, ...]) -> tuple[dict, set]:
        properties, required = {}, set()
        flat = FLATTENED.get(descriptor.full_name)
        for field in descriptor.fields:
            if field.name in skip:
                continue
            if field.name == flat:
                inner, inner_required = self._properties(field.message_type, response, ())
                properties.update(inner)
                required |= inner_required
                continue
            properties[field.name] = self.field(field, response)
            if not field.has_presence or field.is_repeated:
                required.add(field.name)
        return properties, required

    def field(self, field: FieldDescriptor, response: bool) -> dict:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            return {"type": "object",
                    "additionalProperties": self.value(field.message_type.fields_by_name["value"], response)}
        if field.is_repeated:
            return {"type": "array", "items": self.value(field, response)}
        return self.value(field, response)

    def value(self, field: FieldDescriptor, response: bool) -> dict:
        if field.type == F.TYPE_MESSAGE:
            if field.message_type.full_name == "google.protobuf.Timestamp":
                return {"type": "string", "format": "date-time"}
            return self.message(field.message_type, response,
                                name=field.message_type.name + ("" if response else "Input"))
        if field.type == F.TYPE_ENUM:
            names = [enum_name(field.enum_type, v.number) for v in field.enum_type.values] if response \
                else enum_choices(field.enum_type)
            return {"type": "string", "enum": names}
        if field.type in _INTEGERS:
            low, high = _INTEGERS[field.type]
            return {"type": "integer", "minimum": low, "maximum": high}
        if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
            return {"type": "number"}
        if field.type == F.TYPE_BOOL:
            return {"type": "boolean"}
        if field.type == F.TYPE_BYTES:
            return {"type": "string", "contentEncoding": "base64"}
        return {"type": "string"}


def _operation(op: Operation, schemas: _Schemas) -> dict:
    descriptor = op.request.DESCRIPTOR
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
                  for name in op.path_fields]
    doc: dict[str, Any] = {"operationId": op.name, "summary": op.summary, "parameters": parameters}
    if op.query:
        for field in descriptor.fields:
            if field.name not in op.path_fields:
                parameters.append({"name": op.parameter_name(field.name), "in": "query", "required": False,
                                   "schema": schemas.field(field, response=False),
                                   **({"style": "form", "explode": True} if field.is_repeated else {})})
    else:
        body = schemas.message(descriptor, response=False, skip=op.path_fields,
                               name=descriptor.name + ("Body" if op.path_fields else "Input"))
        if op.batch_field:
            element = descriptor.fields_by_name[op.batch_field].message_type
            body = {"oneOf": [body, schemas.message(element, response=False, name=element.name + "Input")]}
        doc["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
    if op.response is None:
        ok = {"description": "the bytes, streamed", "content": {"text/plain": {"schema": {"type": "string"}}}}
    else:
        result = schemas.message(op.response.DESCRIPTOR, response=True)
        if op.batch_field:
            element = op.response.DESCRIPTOR.fields_by_name[op.batch_field].message_type
            result = {"oneOf": [result, schemas.message(element, response=True)]}
        ok = {"description": "success", "content": {"application/json": {"schema": result}}}
    errors = dict(_ERRORS)
    if op.writes:
        doc["security"] = [{"bearer": []}]
        errors["401"] = "the write token is missing or wrong (Authorization: Bearer ...)"
        errors["409"] = "the current state does not allow it"
    if not op.query:
        errors["413"] = "the body is over the limit"
    if op.runs_jobs:
        errors["422"] = "a job's config, lookup or trigger binary failed or misbehaved"
    error = {"content": {"application/json": {"schema": _ref("ErrorResponse")}}}
    doc["responses"] = {str(op.status): ok, **{code: {"description": why, **error} for code, why in errors.items()}}
    return doc


@functools.lru_cache(maxsize=8)
def openapi_document(graph_label: str) -> dict:
    """The whole document; built once per graph."""
    schemas = _Schemas()
    schemas.message(pb.ErrorResponse.DESCRIPTOR, response=True)
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        path = re.sub(r"{(\w+):path}", r"{\1}", op.path)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "DataBuild", "version": databuild.__version__,
                 "description": f"The DataBuild service of graph {graph_label} (docs/http-api.md)."},
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
