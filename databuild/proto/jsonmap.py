"""Messages as DataBuild's JSON contract, both ways, fast (docs/json.md).

The contract differs from protobuf's own JSON mapping in three declared ways, so
scripts and other graphs read it without knowing protobuf:

- enum values are short lowercase names (``"satisfied"``, ``"cli"``): the enum's
  prefix (``WANT_STATUS_``) is dropped; on input the short and the long names are
  accepted, case-insensitively;
- 64-bit integers are JSON numbers, not strings;
- a message listed in ``FLATTENED`` carries one message field's fields at its own
  top level: a want document has ``want_id`` and ``status`` side by side.

Fields with default values are always present; timestamps are RFC 3339 in UTC.
Output converters are built once per message type (lists of wants are thousands
of messages, so this is most of a list request's time).
"""

from __future__ import annotations

import base64
import keyword
import math
import re
from datetime import datetime, timedelta
from typing import Any, Callable, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from databuild.errors import InvalidArgumentError

F = FieldDescriptor
M = TypeVar("M", bound=Message)
_TIMESTAMP = "google.protobuf.Timestamp"

#: Message type -> the message field whose fields it shows at its own top level.
FLATTENED: dict[str, str] = {
    "databuild.v1.WantState": "spec",
    "databuild.v1.WantDetailResponse": "want",
    "databuild.v1.TriggerStatus": "state",
}

_converters: dict[str, Callable[[Message], dict]] = {}


# -- enums -------------------------------------------------------------------

def _enum_prefix(enum: EnumDescriptor) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"


def _short_names(enum: EnumDescriptor) -> dict[int, str]:
    prefix = _enum_prefix(enum)
    return {v.number: v.name.removeprefix(prefix).lower() for v in enum.values}


_SHORT: dict[str, dict[int, str]] = {}
_BY_NAME: dict[str, dict[str, int]] = {}


def _tables(enum: EnumDescriptor) -> tuple[dict[int, str], dict[str, int]]:
    short = _SHORT.get(enum.full_name)
    if short is None:
        short = _SHORT[enum.full_name] = _short_names(enum)
        by_name = {name: number for number, name in short.items()}
        by_name.update({v.name.lower(): v.number for v in enum.values})
        _BY_NAME[enum.full_name] = by_name
    return short, _BY_NAME[enum.full_name]


def enum_name(enum: EnumDescriptor, value: int) -> str:
    """The short lowercase name of ``value`` (``WANT_STATUS_SATISFIED`` -> ``satisfied``)."""
    return _tables(enum)[0].get(value, str(value))


def enum_value(enum: EnumDescriptor, name: str, what: str | None = None) -> int:
    """``satisfied``, ``SATISFIED`` or ``WANT_STATUS_SATISFIED`` -> the number; else a named error."""
    number = _tables(enum)[1].get(name.lower()) if isinstance(name, str) else None
    if number is None or number == 0 and not name.lower().endswith("unspecified"):
        raise InvalidArgumentError(f"unknown {what or enum.name} {name!r}; known: {', '.join(enum_choices(enum))}")
    return number


def enum_choices(enum: EnumDescriptor) -> list[str]:
    """The short names a caller may give (the zero value excluded)."""
    return [name for number, name in _tables(enum)[0].items() if number != 0]


# -- output ------------------------------------------------------------------

def message_dict(message: Message) -> dict:
    """``message`` as a JSON object of the contract (every field present)."""
    return _converter(message.DESCRIPTOR)(message)


def _float(value: float) -> Any:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


_EPOCH = datetime(1970, 1, 1)


def timestamp_text(ts: Message) -> str:
    """RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as protobuf writes it."""
    # isoformat, not strftime: %Y does not pad years before 1000 to four digits.
    text = (_EPOCH + timedelta(seconds=ts.seconds)).isoformat(timespec="seconds")
    nanos = ts.nanos
    if not nanos:
        return text + "Z"
    if nanos % 1_000_000 == 0:
        return f"{text}.{nanos // 1_000_000:03d}Z"
    if nanos % 1000 == 0:
        return f"{text}.{nanos // 1000:06d}Z"
    return f"{text}.{nanos:09d}Z"


def _value_fn(field: FieldDescriptor) -> Callable[[Any], Any]:
    if field.type == F.TYPE_MESSAGE:
        if field.message_type.full_name == _TIMESTAMP:
            return timestamp_text
        return lambda m: _converter(field.message_type)(m)
    if field.type == F.TYPE_ENUM:
        names = _tables(field.enum_type)[0]
        return lambda v: names.get(v, v)
    if field.type in (F.TYPE_FLOAT, F.TYPE_DOUBLE):
        return _float
    if field.type == F.TYPE_BYTES:
        return lambda b: base64.b64encode(b).decode("utf-8")
    return lambda v: v


def _field_fn(field: FieldDescriptor) -> Callable[[Message, dict], None]:
    name = field.name
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_fn = _value_fn(field.message_type.fields_by_name["value"])
        key_is_bool = field.message_type.fields_by_name["key"].type == F.TYPE_BOOL

        def put_map(m: Message, out: dict) -> None:
            out[name] = {(str(k).lower() if key_is_bool else str(k)): value_fn(v) for k, v in getattr(m, name).items()}
        return put_map
    value_fn = _value_fn(field)
    if field.is_repeated:
        def put_list(m: Message, out: dict) -> None:
            out[name] = [value_fn(v) for v in getattr(m, name)]
        return put_list
    if name == FLATTENED.get(field.containing_type.full_name):
        inner = _converter(field.message_type)

        def put_flat(m: Message, out: dict) -> None:
            out.update(inner(getattr(m, name)))
        return put_flat
    if field.has_presence:
        def put_present(m: Message, out: dict) -> None:
            if m.HasField(name):
                out[name] = value_fn(getattr(m, name))
        return put_present

    def put(m: Message, out: dict) -> None:
        out[name] = value_fn(getattr(m, name))
    return put


def _converter(descriptor: Descriptor) -> Callable[[Message], dict]:
    convert = _converters.get(descriptor.full_name)
    if convert is None:
        _check_flattening(descriptor)
        convert = _converters[descriptor.full_name] = _compiled(descriptor)
    return convert


def _compiled(descriptor: Descriptor) -> Callable[[Message], dict]:
    """One function per message type writing its fields in order, as ``_field_fn`` would one by one.

    Generated source, because a list of thousands of wants is mostly this: a plain attribute
    read per scalar field costs a fraction of a closure call and a ``getattr`` per field."""
    lines, names = ["def convert(m):", "    out = {}"], {}
    for i, field in enumerate(descriptor.fields):
        name = field.name
        get = f"getattr(m, {name!r})" if keyword.iskeyword(name) or not name.isidentifier() else f"m.{name}"
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        identity = not is_map and field.type not in (F.TYPE_MESSAGE, F.TYPE_ENUM, F.TYPE_FLOAT, F.TYPE_DOUBLE,
                                                     F.TYPE_BYTES)
        if is_map or (not field.is_repeated and name == FLATTENED.get(descriptor.full_name)):
            names[f"f{i}"] = _field_fn(field)  # maps and flattened messages: as the generic path does them
            lines.append(f"    f{i}(m, out)")
        elif field.is_repeated:
            if identity:
                lines.append(f"    out[{name!r}] = list({get})")
            else:
                names[f"v{i}"] = _value_fn(field)
                lines.append(f"    out[{name!r}] = [v{i}(v) for v in {get}]")
        else:
            value = get if identity else f"v{i}({get})"
            if not identity:
                names[f"v{i}"] = _value_fn(field)
            if field.has_presence:
                lines.append(f"    if m.HasField({name!r}):")
                lines.append(f"        out[{name!r}] = {value}")
            else:
                lines.append(f"    out[{name!r}] = {value}")
    lines.append("    return out")
    exec("\n".join(lines), names)  # noqa: S102 - source built above from the descriptor's field names only
    return names["convert"]


def _top_level_names(descriptor: Descriptor) -> set[str]:
    flat = FLATTENED.get(descriptor.full_name)
    names = {f.name for f in descriptor.fields if f.name != flat}
    if flat:
        names |= _top_level_names(descriptor.fields_by_name[flat].message_type)
    return names


def _check_flattening(descriptor: Descriptor) -> None:
    flat = FLATTENED.get(descriptor.full_name)
    if flat:
        own = {f.name for f in descriptor.fields if f.name != flat}
        clash = own & _top_level_names(descriptor.fields_by_name[flat].message_type)
        assert not clash, f"flattening {descriptor.full_name}.{flat} would hide {clash}"


# -- input -------------------------------------------------------------------

def parse_dict(doc: Any, message: M, ignore_unknown: bool = False) -> M:
    """Fill ``message`` from a JSON document of the contract; InvalidArgumentError naming what is wrong.

    ``ignore_unknown`` is for reading a (newer) service's answers; requests are strict.
    """
    if not isinstance(doc, dict):
        raise InvalidArgumentError(f"expected a JSON object for {message.DESCRIPTOR.name}, got {_show(doc)}")
    if message.ByteSize() == 0:  # the fast path starts from an empty message, so it can start over
        try:
            filled = _fill(doc, message)
        except (TypeError, ValueError):  # a value the message refuses: the full path names it
            filled = False
        if filled:
            return message
        message.Clear()
    try:
        json_format.ParseDict(_to_protobuf(doc, message.DESCRIPTOR, ignore_unknown), message,
                              ignore_unknown_fields=ignore_unknown)
    except json_format.ParseError as e:
        raise InvalidArgumentError(f"not a valid {message.DESCRIPTOR.name}: {e}") from None
    return message


#: Per message type, how ``_fill`` sets each field: (field, setter kind); None for a type it leaves to the full path.
_FILL_PLANS: dict[str, dict[str, tuple[FieldDescriptor, str]] | None] = {}
_INT_RANGES = {F.TYPE_INT64: (-(2**63), 2**63 - 1), F.TYPE_SINT64: (-(2**63), 2**63 - 1),
               F.TYPE_SFIXED64: (-(2**63), 2**63 - 1), F.TYPE_UINT64: (0, 2**64 - 1), F.TYPE_FIXED64: (0, 2**64 - 1),
               F.TYPE_INT32: (-(2**31), 2**31 - 1), F.TYPE_SINT32: (-(2**31), 2**31 - 1),
               F.TYPE_SFIXED32: (-(2**31), 2**31 - 1), F.TYPE_UINT32: (0, 2**32 - 1), F.TYPE_FIXED32: (0, 2**32 - 1)}


def _fill_plan(descriptor: Descriptor) -> dict[str, tuple[FieldDescriptor, str]] | None:
    if descriptor.full_name in _FILL_PLANS:
        return _FILL_PLANS[descriptor.full_name]
    plan: dict[str, tuple[FieldDescriptor, str]] | None = {}
    if descriptor.full_name in FLATTENED or descriptor.full_name == _TIMESTAMP:
        plan = None
    else:
        for field in descriptor.fields:
            oneof = field.containing_oneof
            if oneof is not None and not (len(oneof.fields) == 1 and oneof.name == "_" + field.name):
                continue  # a real oneof: two members set is an error the full path reports
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                continue
            if field.type == F.TYPE_MESSAGE:
                # Well-known types have JSON forms of their own (a timestamp is RFC 3339 text).
                kind = "" if field.message_type.full_name.startswith("google.protobuf.") else "message"
            elif field.type == F.TYPE_STRING:
                kind = "string"
            elif field.type == F.TYPE_BOOL:
                kind = "bool"
            elif field.type == F.TYPE_ENUM:
                kind = "enum"
            elif field.type in _INT_RANGES:
                kind = "int"
            else:
                kind = ""
            if kind:
                plan[field.name] = (field, ("repeated " if field.is_repeated else "") + kind)
    _FILL_PLANS[descriptor.full_name] = plan
    return plan


def _fill(doc: dict, message: Message) -> bool:
    """Set ``message`` from ``doc`` directly where every value is plainly of its field's type
    (strings, integers in range, booleans, enum names, nested objects and lists of them):
    what ``ParseDict`` would set, without building protobuf's JSON mapping first and
    converting it back. False for anything else (timestamps, maps, oneofs, flattened
    messages, nulls, numbers as strings, unknown names...): then ``message`` is partly
    set and the caller clears it and takes the full path, which names what is wrong."""
    plan = _fill_plan(message.DESCRIPTOR)
    if plan is None:
        return False
    for key, value in doc.items():
        entry = plan.get(key)
        if entry is None:
            return False
        field, kind = entry
        if kind == "string":
            if type(value) is not str:
                return False
            setattr(message, key, value)
        elif kind == "repeated string":
            if type(value) is not list or not all(type(v) is str for v in value):
                return False
            getattr(message, key).extend(value)
        elif kind == "message":
            if type(value) is not dict:
                return False
            sub = getattr(message, key)
            sub.SetInParent()
            if not _fill(value, sub):
                return False
        elif kind == "repeated message":
            if type(value) is not list:
                return False
            items = getattr(message, key)
            for item in value:
                if type(item) is not dict or not _fill(item, items.add()):
                    return False
        elif kind == "int":
            low, high = _INT_RANGES[field.type]
            if type(value) is not int or not low <= value <= high:
                return False
            setattr(message, key, value)
        elif kind == "bool":
            if type(value) is not bool:
                return False
            setattr(message, key, value)
        elif kind == "enum":
            if type(value) is not str:
                return False
            setattr(message, key, enum_value(field.enum_type, value, field.name))  # its error is the full path's
        else:
            return False
    return True


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _to_protobuf(doc: dict, descriptor: Descriptor, ignore_unknown: bool) -> dict:
    """The document in protobuf's own JSON mapping: nested again, enums by their full names."""
    flat = FLATTENED.get(descriptor.full_name)
    if flat:
        inner_names = _top_level_names(descriptor.fields_by_name[flat].message_type)
        inner = {k: doc[k] for k in doc if k in inner_names}
        doc = {k: v for k, v in doc.items() if k not in inner_names}
        if inner:
            doc[flat] = inner
    out = {}
    for key, value in doc.items():
        field = descriptor.fields_by_name.get(key)
        if field is None:
            if not ignore_unknown:
                raise InvalidArgumentError(f"{descriptor.name} has no field {key!r}")
            continue
        out[key] = _field_value(field, value, ignore_unknown)
    return out


def _field_value(field: FieldDescriptor, value: Any, ignore_unknown: bool) -> Any:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_field = field.message_type.fields_by_name["value"]
        if isinstance(value, dict):
            return {k: _one_value(value_field, v, ignore_unknown) for k, v in value.items()}
        return value
    if field.is_repeated and isinstance(value, list):
        return [_one_value(field, v, ignore_unknown) for v in value]
    return _one_value(field, value, ignore_unknown)


def _one_value(field: FieldDescriptor, value: Any, ignore_unknown: bool) -> Any:
    if field.type == F.TYPE_ENUM:
        if isinstance(value, str):
            return field.enum_type.values_by_number[enum_value(field.enum_type, value, field.name)].name
        if isinstance(value, int) and value not in field.enum_type.values_by_number and not ignore_unknown:
            raise InvalidArgumentError(f"unknown {field.name} {value}; known: {', '.join(enum_choices(field.enum_type))}")
    if field.type == F.TYPE_MESSAGE and isinstance(value, dict) and field.message_type.full_name != _TIMESTAMP:
        return _to_protobuf(value, field.message_type, ignore_unknown)
    return value
