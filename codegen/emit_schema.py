"""Emit strict per-class JSON Schemas (draft 2020-12) and generated/manifest.json.

DESIGN
One self-contained schema per class: properties of the class with the
selected profiles, the object closure under $defs, additionalProperties
false everywhere except the open `object` type and json_t values. Deprecated
attributes are left out (our emitter must not produce them). Enumerated
attributes list their values; class_uid/category_uid/class_name/
category_name are const and type_uid is the class's derived list; port_t is
0..65535; data-type regexes and maximum lengths are applied where the OCSF
type defines them (not for ip_t/uuid_t whose regexes are unanchored: the
validator tool checks those with a real parser).

Profile gating: an attribute of the class that belongs to profile P is only
allowed when metadata.profiles contains P (an if/else rule at the root), and
a profile attribute the profile requires becomes required when P is
declared. Profile attributes inside objects (e.g. process.container) cannot
see the root from inside a $def without duplicating every affected
definition, so they carry "x-ocsf-profile" and tools/ocsf-validate checks
them against metadata.profiles using manifest.json (documented in
docs/codegen.md).
"""

import json

from .model import F_ARRAY, F_DEPRECATED, F_REQUIRED

SCHEMA_ID = "urn:openshell:ocsf:%s:%s"
INT64 = {"minimum": -(2 ** 63), "maximum": 2 ** 63 - 1}
NO_PATTERN = {"ip_t", "uuid_t"}  # unanchored / permissive regexes upstream


def _kept(mi):
    return [f for f in mi.fields if not f.flags & F_DEPRECATED]


def _scalar(m, mi, f):
    a = f.attr
    k = f.kind
    if k == "OBJECT":
        return {"$ref": "#/$defs/" + f.object}
    if k == "OPEN_OBJECT":
        return {"type": "object"}
    if k == "JSON":
        return {}
    if k == "ENUM_INT":
        vals = [it[0] for it in f.enum.items]
        if mi.kind == "class" and f.name in ("class_uid", "category_uid"):
            return {"const": vals[0]}
        return {"type": "integer", "enum": vals}
    if k == "ENUM_STR":
        return {"type": "string", "enum": [it[1] for it in f.enum.items]}
    if k == "BOOL":
        return {"type": "boolean"}
    if k == "FLOAT":
        return {"type": "number"}
    if k in ("INT", "LONG", "PORT"):
        s = {"type": "integer"}
        if f.range is not None:
            s["minimum"], s["maximum"] = int(f.range[0]), int(f.range[1])
        else:
            s.update(INT64)
        return s
    s = {"type": "string"}
    if mi.kind == "class" and f.name == "class_name":
        s["const"] = mi.item.caption
    elif mi.kind == "class" and f.name == "category_name":
        s["const"] = mi.item.category_name
    elif mi.kind == "object" and mi.name == "metadata" and f.name == "version":
        s["const"] = m.version
    for t in m._type_chain(a.type):
        info = m.r.types.get(t, {})
        if "max_len" in info and "maxLength" not in s:
            s["maxLength"] = info["max_len"]
        if "regex" in info and "pattern" not in s and t not in NO_PATTERN:
            s["pattern"] = info["regex"]
    return s


def _prop(m, mi, f):
    s = _scalar(m, mi, f)
    if mi.kind == "object" and mi.name == "metadata" and f.name == "profiles":
        s = {"type": "string", "enum": list(m.profiles)}
    if f.flags & F_ARRAY:
        s = {"type": "array", "items": s}
    if f.attr.caption:
        s = dict(s)
        s["title"] = f.attr.caption
    if f.profile and mi.kind == "object":
        s["x-ocsf-profile"] = f.profile
    return s


def _constraints(mi, names_ok):
    out = []
    for just_one, names in mi.constraints:
        names = [n for n in names if n in names_ok]
        if not names:
            continue
        key = "oneOf" if just_one else "anyOf"
        out.append({key: [{"required": [n]} for n in names]})
    return out


def _object_schema(m, mi, gate_profiles):
    fields = _kept(mi)
    names = {f.name for f in fields}
    in_cons = {n for _, ns in mi.constraints for n in ns}
    props = {}
    required = []
    for f in fields:
        if gate_profiles and f.profile:
            props[f.name] = _prop(m, mi, f)
            continue
        props[f.name] = _prop(m, mi, f)
        if f.flags & F_REQUIRED and f.name not in in_cons:
            required.append(f.name)
    s = {"title": mi.caption, "type": "object", "properties": props,
         "additionalProperties": False}
    if required:
        s["required"] = sorted(required)
    rules = _constraints(mi, names)
    if gate_profiles:
        rules.extend(_profile_rules(mi, fields))
    if len(rules) == 1 and not gate_profiles:
        s.update(rules[0])
    elif rules:
        s["allOf"] = rules
    return s


def _declares(p):
    return {"required": ["metadata"],
            "properties": {"metadata": {"required": ["profiles"],
                                        "properties": {"profiles": {"contains": {"const": p}}}}}}


def _profile_rules(mi, fields):
    by_p = {}
    for f in fields:
        if f.profile:
            by_p.setdefault(f.profile, []).append(f)
    rules = []
    for p in sorted(by_p):
        fs = sorted(by_p[p], key=lambda f: f.name)
        rule = {"if": _declares(p),
                "else": {"properties": {f.name: False for f in fs}}}
        req = [f.name for f in fs if f.flags & F_REQUIRED]
        if req:
            rule["then"] = {"required": req}
        rules.append(rule)
    return rules


def _closure(m, mi):
    seen = set()
    stack = [mi]
    while stack:
        cur = stack.pop()
        for f in _kept(cur):
            if f.kind == "OBJECT" and f.object not in seen:
                seen.add(f.object)
                stack.append(m.obj_by_name[f.object])
    return sorted(seen)


def class_schema(m, mi):
    s = {"$schema": "https://json-schema.org/draft/2020-12/schema",
         "$id": SCHEMA_ID % (m.version, mi.name),
         "description": "OCSF %s class %s (%d), profiles: %s. Generated by codegen; "
                        "DO NOT EDIT." % (m.version, mi.name, mi.item.class_uid,
                                          ", ".join(m.profiles)) }
    s.update(_object_schema(m, mi, True))
    # type_uid must match activity_id: one branch per activity value.
    if "type_uid" in mi.by_name and "activity_id" in mi.by_name:
        uid = mi.item.class_uid
        pairs = [{"properties": {"activity_id": {"const": it[0]},
                                 "type_uid": {"const": uid * 100 + it[0]}}}
                 for it in mi.by_name["activity_id"].enum.items]
        s.setdefault("allOf", []).append({"anyOf": pairs})
    s["$defs"] = {o: _object_schema(m, m.obj_by_name[o], False) for o in _closure(m, mi)}
    return s


def manifest(m):
    def attrs(mi):
        out = {}
        for f in mi.fields:
            e = {"kind": f.kind.lower(), "type": f.attr.type,
                 "requirement": f.attr.requirement}
            if f.flags & F_ARRAY:
                e["array"] = True
            if f.profile:
                e["profile"] = f.profile
            if f.flags & F_DEPRECATED:
                e["deprecated"] = True
            if f.kind == "OBJECT":
                e["object"] = f.object
            if f.enum is not None:
                e["enum"] = f.enum.name
                if f.sibling >= 0:
                    e["sibling"] = mi.fields[f.sibling].name
            out[f.name] = e
        return out

    return {
        "generator": "codegen",
        "ocsf_version": m.version,
        "profiles": list(m.profiles),
        "classes": {c.name: {"class_uid": c.item.class_uid, "caption": c.caption,
                             "category_uid": c.item.category_uid,
                             "category_name": c.item.category_name,
                             "attributes": attrs(c)} for c in m.classes},
        "objects": {o.name: {"caption": o.caption, "recursive": o.recursive,
                             "attributes": attrs(o)} for o in m.objects},
        "enums": {e.name: {str(it[1] if e.is_str else it[0]): it[2] for it in e.items}
                  for e in m.enums},
    }


def dump(obj):
    return json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


def emit_all(model):
    out = {}
    for mi in model.classes:
        out["schema/%s.schema.json" % mi.name] = dump(class_schema(model, mi))
    out["manifest.json"] = dump(manifest(model))
    return out
