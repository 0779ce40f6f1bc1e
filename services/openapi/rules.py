"""protovalidate rules -> JSON Schema keywords, where JSON Schema has an equivalent.

Only rules a JSON Schema validator checks the same way are mapped (lengths, patterns,
ranges, enums, item and pair counts, uuid/email formats, field mask paths); CEL
expressions and rules without an equivalent are left to the server, which enforces
every rule anyway. ``IGNORE_IF_ZERO_VALUE`` keeps the zero value valid, as protovalidate
does.
"""

from __future__ import annotations

import re
from typing import Any

from buf.validate import validate_pb2

Schema = dict[str, Any]

# protovalidate's `uuid`: any version, hyphenated, either case.
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# The generated module is not type-checked; its handles are typed loosely.
_V: Any = validate_pb2
IGNORE_IF_ZERO_VALUE: int = _V.IGNORE_IF_ZERO_VALUE
IGNORE_ALWAYS: int = _V.IGNORE_ALWAYS

_NUMERIC_RULES = (
    "int32",
    "int64",
    "uint32",
    "uint64",
    "sint32",
    "sint64",
    "fixed32",
    "fixed64",
    "sfixed32",
    "sfixed64",
    "float",
    "double",
)
_64_BIT = {"int64", "uint64", "sint64", "fixed64", "sfixed64"}


def field_rules(options: Any) -> Any | None:
    """The ``(buf.validate.field)`` rules of a FieldOptions, or None."""
    if options.HasExtension(_V.field):
        return options.Extensions[_V.field]
    return None


def oneof_required(options: Any) -> bool:
    return bool(options.HasExtension(_V.oneof) and options.Extensions[_V.oneof].required)


def is_required(rules: Any | None) -> bool:
    return bool(rules is not None and rules.required and rules.ignore != IGNORE_ALWAYS)


def apply(schema: Schema, rules: Any | None, *, zero: Any) -> Schema:
    """``schema`` (of one field, repeated/map already wrapped) narrowed by ``rules``.

    ``zero`` is the field's JSON zero value ("" for strings, 0 for numbers, None when
    the field has presence), used for IGNORE_IF_ZERO_VALUE.
    """
    if rules is None or rules.ignore == IGNORE_ALWAYS:
        return schema
    kind = rules.WhichOneof("type")
    if kind is None:
        return schema
    typed = getattr(rules, kind)
    if kind == "repeated":
        return _repeated(schema, typed)
    if kind == "map":
        return _map(schema, typed)
    keywords = scalar_keywords(kind, typed)
    if not keywords:
        return schema
    if rules.ignore == IGNORE_IF_ZERO_VALUE and zero is not None:
        return _allow_zero(schema, keywords, zero)
    return {**schema, **keywords}


def scalar_keywords(kind: str, rules: Any) -> Schema:
    """JSON Schema keywords for the rules of one scalar/enum/well-known value."""
    if kind == "string":
        return _string(rules)
    if kind in _NUMERIC_RULES:
        return _numeric(rules, as_string=kind in _64_BIT)
    if kind == "bytes":
        return _bytes(rules)
    if kind == "enum":
        return _enum(rules)
    if kind == "field_mask":
        return _field_mask(rules)
    return {}


def _string(rules: Any) -> Schema:
    out: Schema = {}
    if rules.HasField("const"):
        out["const"] = rules.const
    if rules.HasField("len"):
        out["minLength"] = out["maxLength"] = rules.len
    if rules.HasField("min_len"):
        out["minLength"] = rules.min_len
    if rules.HasField("max_len"):
        out["maxLength"] = rules.max_len
    patterns: list[str] = []
    if rules.HasField("pattern"):
        patterns.append(rules.pattern)
    if rules.HasField("prefix"):
        patterns.append("^" + re.escape(rules.prefix))
    if rules.HasField("suffix"):
        patterns.append(re.escape(rules.suffix) + "$")
    if rules.HasField("contains"):
        patterns.append(re.escape(rules.contains))
    well_known = rules.WhichOneof("well_known")
    if well_known == "uuid" and rules.uuid:
        out["format"] = "uuid"
        patterns.append(UUID_PATTERN)
    elif well_known == "email" and rules.email:
        out["format"] = "email"
    elif well_known in ("hostname", "uri", "ipv4", "ipv6") and getattr(rules, well_known):
        out["format"] = {"ipv4": "ipv4", "ipv6": "ipv6", "uri": "uri", "hostname": "hostname"}[well_known]
    if len(patterns) == 1:
        out["pattern"] = patterns[0]
    elif patterns:
        out["allOf"] = [{"pattern": p} for p in patterns]
    if rules.__getattribute__("in"):
        out["enum"] = list(rules.__getattribute__("in"))
    if rules.not_in:
        out["not"] = {"enum": list(rules.not_in)}
    return out


def _numeric(rules: Any, *, as_string: bool) -> Schema:
    # 64-bit integers travel as JSON strings: their ranges cannot be JSON Schema keywords.
    if as_string:
        return {}
    out: Schema = {}
    if rules.HasField("const"):
        out["const"] = rules.const
    bound = rules.WhichOneof("less_than")
    if bound == "lt":
        out["exclusiveMaximum"] = rules.lt
    elif bound == "lte":
        out["maximum"] = rules.lte
    bound = rules.WhichOneof("greater_than")
    if bound == "gt":
        out["exclusiveMinimum"] = rules.gt
    elif bound == "gte":
        out["minimum"] = rules.gte
    if rules.__getattribute__("in"):
        out["enum"] = list(rules.__getattribute__("in"))
    if rules.not_in:
        out["not"] = {"enum": list(rules.not_in)}
    return out


def _bytes(rules: Any) -> Schema:
    # Base64 text: 4 characters per 3 bytes, padded.
    out: Schema = {}
    if rules.HasField("max_len"):
        out["maxLength"] = 4 * ((rules.max_len + 2) // 3)
    return out


def _enum(rules: Any) -> Schema:
    # defined_only is what listing the names already says; in/not_in are numbers and are
    # applied by the schema builder, which knows the names (see enum_filter).
    return {}


def enum_filter(rules: Any | None) -> tuple[set[int] | None, set[int]]:
    """(allowed numbers or None for all, refused numbers) of an enum field's rules."""
    if rules is None:
        return None, set()
    kind = rules.WhichOneof("type")
    typed = rules.enum if kind == "enum" else rules.repeated.items.enum if kind == "repeated" else None
    if typed is None:
        return None, set()
    allowed = set(typed.__getattribute__("in")) or None
    return allowed, set(typed.not_in)


def _field_mask(rules: Any) -> Schema:
    """A FieldMask is a comma-separated list of lowerCamelCase paths in JSON. Only the listed
    paths themselves: protovalidate's ``in`` also admits their sub-paths ("labels.env"), which
    every service refuses (services.runtime.resources.check_update_mask)."""
    allowed = list(rules.__getattribute__("in"))
    if not allowed:
        return {}
    one = "(?:" + "|".join(re.escape(_camel_path(path)) for path in allowed) + ")"
    return {"pattern": f"^{one}(?:,{one})*$"}


def _camel_path(path: str) -> str:
    return ".".join(re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), part) for part in path.split("."))


def _repeated(schema: Schema, rules: Any) -> Schema:
    out = dict(schema)
    if rules.HasField("min_items"):
        out["minItems"] = rules.min_items
    if rules.HasField("max_items"):
        out["maxItems"] = rules.max_items
    if rules.unique:
        out["uniqueItems"] = True
    if rules.HasField("items"):
        out["items"] = apply(schema["items"], rules.items, zero=None)
    return out


def _map(schema: Schema, rules: Any) -> Schema:
    out = dict(schema)
    if rules.HasField("min_pairs"):
        out["minProperties"] = rules.min_pairs
    if rules.HasField("max_pairs"):
        out["maxProperties"] = rules.max_pairs
    if rules.HasField("keys"):
        keys = apply({"type": "string"}, rules.keys, zero=None)
        keys.pop("type", None)
        if keys:
            out["propertyNames"] = keys
    if rules.HasField("values"):
        out["additionalProperties"] = apply(schema["additionalProperties"], rules.values, zero=None)
    return out


def _allow_zero(schema: Schema, keywords: Schema, zero: Any) -> Schema:
    """The rules apply only to non-zero values: the zero value stays valid."""
    if set(keywords) <= {"pattern", "format"} and zero == "":
        # One pattern that also admits the empty string reads better than an anyOf.
        pattern = keywords.get("pattern", ".*")
        return {**schema, "pattern": f"^$|{pattern}"}
    return {**schema, "anyOf": [{"const": zero}, keywords]}
