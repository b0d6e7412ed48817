"""Down-version targets: per-version descriptor tables, JSON Schemas, matrix.

DESIGN
An event is always built in the main OCSF version (1.7.0). SIEMs pinned to
an older release get it converted by src/ocsf/ocsf_convert.c, which must
know, for each target release, exactly what that release has: classes,
objects, attributes (kind, array, requirement, profile, deprecation,
object type, enum, caption sibling, integer range), constraints, enum
values and profiles. That knowledge comes from the target's own raw
schema, read by the same loader/resolver/model as the main version, so a
target is described by the same rules and cannot drift from its JSON
Schema. Per target this module writes:
  * rows of generated/c/ocsf_versions.c (one `struct ocsf_vschema` each,
    names sorted so the converter binary-searches them);
  * generated/schema/<version>/<class>.schema.json and manifest.json
    (emit_schema's output for that model; tools/ocsf-validate --version);
  * the "Version matrix" page docs/siem-version-matrix.md: per class and
    target what is dropped and what is filled (from the fill rules).
The fill rules (schema/ocsf.yaml `fills`) are data, checked here against
both models: the attribute must exist in some target, every source path
must exist in the main version.
"""

import copy
import os

from . import emit_schema
from .errors import GenError
from .loader import RawSchema, find_schema_dir
from .model import (F_ARRAY, F_CAPTION, F_DEPRECATED, F_DERIVED, F_REQUIRED, Model)
from .resolve import Resolver

KINDS = ("STRING", "INT", "LONG", "FLOAT", "BOOL", "JSON", "PORT", "ENUM_INT", "ENUM_STR",
         "OBJECT", "OPEN_OBJECT")
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1

# String formats a target's data types impose by regex, and the checker in
# src/ocsf/ocsf_convert.c (fmt_ok) that implements each exactly. A target
# whose dictionary has a regex not listed here stops the generator, so a new
# pin cannot yield output its own JSON Schema rejects. ip_t/uuid_t: the JSON
# Schemas carry no pattern for them (emit_schema.NO_PATTERN).
FORMATS = {
    r"^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9]"
    r"[A-Za-z0-9\-]*[A-Za-z0-9])$": "HOSTNAME",
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(Z|[\+-]\d{2}:\d{2})?$":
        "DATETIME_UPPER",
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?([Zz]|[\+-]\d{2}:\d{2})?$":
        "DATETIME",
    r"^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$": "EMAIL_NARROW",
    r"^[a-zA-Z0-9!#$%&'*+-/=?^_`{|}~.]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$": "EMAIL",
    r"^([0-9A-Fa-f]{2}[:-]){5}([0-9A-Fa-f]{2})$": "MAC",
    r"^[a-fA-F0-9]+$": "FILE_HASH",
}
FORMAT_IDS = ("NONE", "HOSTNAME", "DATETIME_UPPER", "DATETIME", "EMAIL_NARROW", "EMAIL", "MAC",
              "FILE_HASH")


def _format(m, f):
    for t in m._type_chain(f.attr.type):
        info = m.r.types.get(t, {})
        if "regex" in info and t not in emit_schema.NO_PATTERN:
            fmt = FORMATS.get(info["regex"])
            if fmt is None:
                raise GenError("OCSF %s type %s has the regex %r, which no checker in "
                               "src/ocsf/ocsf_convert.c implements (add one and list it in "
                               "codegen/emit_versions.py FORMATS)" % (m.version, t,
                                                                       info["regex"]))
            return fmt
    return "NONE"


def ident(v):
    return "v" + v.replace(".", "_")


def _target_profiles(root, profiles):
    known = set()
    pdir = os.path.join(root, "profiles")
    for fn in sorted(os.listdir(pdir)) if os.path.isdir(pdir) else []:
        if fn.endswith(".json"):
            known.add(fn[:-5])
    return [p for p in profiles if p in known]


def load_targets(repo, sel, validate=True):
    """Models of every target version of the selection, oldest first."""
    targets = sel.get("targets") or []
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise GenError("\"targets\" must be a list of version strings", sel["_path"],
                       "/targets")
    env = dict(os.environ)
    env.pop("OCSF_SCHEMA_DIR", None)  # names the main version's tree only
    out = []
    for v in targets:
        if v == sel["version"]:
            raise GenError("target %s is the main version" % v, sel["_path"], "/targets")
        sdir = find_schema_dir(repo, v, env)
        tsel = copy.deepcopy(sel)
        tsel["version"] = v
        tsel["profiles"] = _target_profiles(sdir, sel["profiles"])
        out.append(Model(Resolver(RawSchema(sdir, validate=validate)), tsel))
    return out


# ------------------------------------------------------------ fill rules
def load_fills(sel, main, targets):
    """[(item, attr, [source paths])] checked against the models."""
    rows = sel.get("fills") or []
    path = sel["_path"]
    if not isinstance(rows, list):
        raise GenError("\"fills\" must be a list", path, "/fills")
    out = []
    for i, r in enumerate(rows):
        where = "/fills/%d" % i
        if not isinstance(r, dict) or set(r) != {"at", "from"}:
            raise GenError("a fill is {at: <item>.<attribute>, from: [<path>, ...]}", path, where)
        at, src = r["at"], r["from"]
        if not isinstance(at, str) or at.count(".") != 1:
            raise GenError("\"at\" must be <class or object>.<attribute>", path, where + "/at")
        item, attr = at.split(".")
        if not any(_item(t, item) is not None and attr in _item(t, item).by_name
                   for t in targets):
            raise GenError("%s is an attribute of no target version" % at, path, where + "/at")
        if not isinstance(src, list) or not src or not all(isinstance(s, str) for s in src):
            raise GenError("\"from\" must be a non-empty list of paths", path, where + "/from")
        for s in src:
            if s.startswith("@"):
                if not _rel_ok(main, item, s[1:]):
                    raise GenError("source %r: %s is not an attribute path of %s in OCSF %s"
                                   % (s, s[1:], item, main.version), path, where + "/from")
            elif not _path_ok(main, s):
                raise GenError("source %r is not an attribute path of OCSF %s (from the event "
                               "root, e.g. metadata.product.vendor_name)" % (s, main.version),
                               path, where + "/from")
        out.append((item, attr, src))
    return out


def _item(m, name):
    for c in m.classes:
        if c.name == name:
            return c
    return m.obj_by_name.get(name)


def _rel_ok(m, item, p):
    mi = _item(m, item)
    for i, part in enumerate(p.split(".")):
        f = mi.by_name.get(part) if mi is not None else None
        if f is None:
            return False
        if i < len(p.split(".")) - 1:
            if f.kind != "OBJECT":
                return False
            mi = m.obj_by_name[f.object]
    return True


def _path_ok(m, p):
    """A dotted path that exists from the root of some class of m."""
    parts = p.split(".")
    for c in m.classes:
        cur = c
        ok = True
        for i, part in enumerate(parts):
            f = cur.by_name.get(part)
            if f is None:
                ok = False
                break
            if i < len(parts) - 1:
                if f.kind != "OBJECT":
                    ok = False
                    break
                cur = m.obj_by_name[f.object]
        if ok:
            return True
    return False


# ------------------------------------------------------------ C tables
def _c_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _enum_list(m):
    return sorted(m.enums, key=lambda e: e.cname)


def _emit_version(m, fills):
    p = ident(m.version)
    lines = []
    enums = _enum_list(m)
    enum_idx = {id(e): i for i, e in enumerate(enums)}
    objs = m.objects  # sorted by name
    obj_idx = {o.name: i for i, o in enumerate(objs)}
    prof_idx = {pr: i for i, pr in enumerate(m.profiles)}
    for i, e in enumerate(enums):
        if e.is_str:
            lines.append("static const char *const %s_e%d_keys[] = {%s};"
                         % (p, i, ", ".join(_c_str(it[1]) for it in e.items)))
        else:
            lines.append("static const int64_t %s_e%d_vals[] = {%s};"
                         % (p, i, ", ".join("%d" % it[0] for it in e.items)))
        lines.append("static const char *const %s_e%d_caps[] = {%s};"
                     % (p, i, ", ".join(_c_str(it[2]) for it in e.items)))
    lines.append("static const struct ocsf_venum %s_enums[] = {" % p)
    for i, e in enumerate(enums):
        if e.is_str:
            lines.append("{%s, 1, %d, NULL, %s_e%d_keys, %s_e%d_caps},"
                         % (_c_str(e.name), len(e.items), p, i, p, i))
        else:
            lines.append("{%s, 0, %d, %s_e%d_vals, NULL, %s_e%d_caps},"
                         % (_c_str(e.name), len(e.items), p, i, p, i))
    lines.append("};")

    def item_rows(mi, tag):
        rows = []
        for f in mi.fields:
            lo, hi = (INT64_MIN, INT64_MAX) if f.range is None else (int(f.range[0]),
                                                                   int(f.range[1]))
            lo_s = "INT64_MIN" if lo == INT64_MIN else "%dLL" % lo
            hi_s = "INT64_MAX" if hi == INT64_MAX else "%dLL" % hi
            maxlen = 0
            if f.kind == "STRING":
                for t in m._type_chain(f.attr.type):
                    info = m.r.types.get(t, {})
                    if "max_len" in info:
                        maxlen = int(info["max_len"])
                        break
            fmt = _format(m, f) if f.kind == "STRING" else "NONE"
            rows.append("{%s, OCSF_VK_%s, OCSF_VFMT_%s, 0x%02x, %d, %d, %d, %d, %d, %s, %s},"
                        % (_c_str(f.name), f.kind, fmt, f.flags & (F_ARRAY | F_REQUIRED | F_DEPRECATED
                                                               | F_CAPTION | F_DERIVED),
                           prof_idx[f.profile] if f.profile else -1,
                           obj_idx[f.object] if f.kind == "OBJECT" else -1,
                           enum_idx[id(f.enum)] if f.enum is not None else -1,
                           f.sibling, maxlen, lo_s, hi_s))
        lines.append("static const struct ocsf_vattr %s_%s_attrs[] = {" % (p, tag))
        lines.extend(rows)
        lines.append("};")
        for k, (just_one, names) in enumerate(mi.constraints):
            lines.append("static const uint16_t %s_%s_c%d[] = {%s};"
                         % (p, tag, k, ", ".join(str(mi.by_name[n].index) for n in names)))
        if mi.constraints:
            lines.append("static const struct ocsf_vcons %s_%s_cons[] = {" % (p, tag))
            for k, (just_one, names) in enumerate(mi.constraints):
                lines.append("{%d, %d, %s_%s_c%d}," % (1 if just_one else 0, len(names), p, tag,
                                                       k))
            lines.append("};")

    def item_init(mi, tag):
        it = mi.item
        cons = ("%s_%s_cons, %d" % (p, tag, len(mi.constraints))) if mi.constraints \
            else "NULL, 0"
        if mi.kind == "class":
            return "{%s, %s, %d, %d, %s, %s_%s_attrs, %d, %s}," % (
                _c_str(mi.name), _c_str(mi.caption), it.class_uid, it.category_uid,
                _c_str(it.category_name or ""), p, tag, len(mi.fields), cons)
        return "{%s, %s, -1, -1, NULL, %s_%s_attrs, %d, %s}," % (
            _c_str(mi.name), _c_str(mi.caption), p, tag, len(mi.fields), cons)

    for o in objs:
        item_rows(o, "o_" + o.name)
    classes = sorted(m.classes, key=lambda c: c.item.class_uid)
    for c in classes:
        item_rows(c, "c_" + c.name)
    lines.append("static const struct ocsf_vitem %s_objects[] = {" % p)
    lines.extend(item_init(o, "o_" + o.name) for o in objs)
    lines.append("};")
    lines.append("static const struct ocsf_vitem %s_classes[] = {" % p)
    lines.extend(item_init(c, "c_" + c.name) for c in classes)
    lines.append("};")
    lines.append("static const char *const %s_profiles[] = {%s};"
                 % (p, ", ".join(_c_str(x) for x in m.profiles) or "NULL"))
    # fills that apply to this version: the attribute exists here
    frows = []
    for k, (item, attr, src) in enumerate(fills):
        mi = _item(m, item)
        if mi is None or attr not in mi.by_name:
            continue
        lines.append("static const char *const %s_fill%d[] = {%s, NULL};"
                     % (p, k, ", ".join(_c_str(s) for s in src)))
        is_class = mi.kind == "class"
        frows.append("{%d, %d, %d, %s_fill%d}," % (
            1 if is_class else 0,
            classes.index(mi) if is_class else obj_idx[mi.name],
            mi.by_name[attr].index, p, k))
    if frows:
        lines.append("static const struct ocsf_vfill %s_fills[] = {" % p)
        lines.extend(frows)
        lines.append("};")
    lines.append("const struct ocsf_vschema ocsf_vschema_%s = {" % p[1:])
    lines.append("%s, %s_classes, %d, %s_objects, %d, %s_enums, %d, %s_profiles, %d, %s, %d};"
                 % (_c_str(m.version), p, len(classes), p, len(objs), p, len(enums), p,
                    len(m.profiles), ("%s_fills" % p) if frows else "NULL", len(frows)))
    return lines


HEADER = """/* Generated by codegen from OCSF %(versions)s; DO NOT EDIT. */
/* ocsf_versions.h - descriptor tables of the older OCSF releases events can be
 * converted to (src/ocsf/ocsf_convert.h reads them).
 *
 * DESIGN: the same loader/resolver/model that generates the main bindings
 * reads each target's raw schema; these rows are its classes, objects,
 * attributes, constraints, enums and profiles, sorted (objects and
 * attributes by name, classes by class_uid) for binary search. Static
 * const data: no ownership, no initialisation, thread-safe. */
#ifndef OCSF_VERSIONS_H
#define OCSF_VERSIONS_H

#include <stdint.h>

/* Attribute kinds (codegen/model.py field_kind). */
enum ocsf_vkind {
%(kinds)s
};

/* String formats a target's types impose (checked by ocsf_convert.c). */
enum ocsf_vfmt {
%(fmts)s
};

/* Attribute flags (the main descriptors' OCSF_F_* values). */
#define OCSF_VF_ARRAY 0x01
#define OCSF_VF_REQUIRED 0x02
#define OCSF_VF_DEPRECATED 0x08
#define OCSF_VF_CAPTION 0x10
#define OCSF_VF_DERIVED 0x20

struct ocsf_vattr {
	const char *name;
	uint8_t kind;	 /* enum ocsf_vkind */
	uint8_t fmt;	 /* STRING: enum ocsf_vfmt */
	uint8_t flags;	 /* OCSF_VF_* */
	int8_t profile;	 /* index in ocsf_vschema.profiles, -1: core */
	int16_t object;	 /* OBJECT: index in ocsf_vschema.objects, else -1 */
	int16_t enumi;	 /* ENUM_*: index in ocsf_vschema.enums, else -1 */
	int16_t sibling; /* the enum/caption partner's index in the same item, -1 */
	uint32_t max_len; /* STRING: longest allowed (bytes as characters), 0: none */
	int64_t min, max; /* INT/LONG/PORT range */
};

/* A constraint: at_least_one (just_one == 0) or just_one of attrs. */
struct ocsf_vcons {
	uint8_t just_one;
	uint8_t n;
	const uint16_t *attrs; /* indexes in the item's attrs */
};

struct ocsf_vitem {
	const char *name;
	const char *caption;
	int32_t class_uid;	   /* classes only, else -1 */
	int32_t category_uid;	   /* classes only, else -1 */
	const char *category_name; /* classes only */
	const struct ocsf_vattr *attrs;
	uint16_t n_attrs;
	const struct ocsf_vcons *cons;
	uint8_t n_cons;
};

/* Enum values sorted: ints ascending (vals), strings by key (keys). */
struct ocsf_venum {
	const char *name;
	uint8_t is_str;
	uint16_t n;
	const int64_t *vals;
	const char *const *keys;
	const char *const *caps;
};

/* Fill rule (schema/ocsf.yaml `fills`): when the item's attribute is
 * required (or the only way to meet an at_least_one group) and absent, take
 * the first present source path of the source event, converted as the
 * attribute's type. A path is dotted from the event root, or with a leading
 * '@' from the object being converted. */
struct ocsf_vfill {
	uint8_t in_class; /* item is classes[item] (1) or objects[item] (0) */
	uint16_t item;
	uint16_t attr;
	const char *const *from; /* NULL-terminated */
};

struct ocsf_vschema {
	const char *version;
	const struct ocsf_vitem *classes; /* by class_uid */
	uint16_t n_classes;
	const struct ocsf_vitem *objects; /* by name */
	uint16_t n_objects;
	const struct ocsf_venum *enums;
	uint16_t n_enums;
	const char *const *profiles; /* sorted */
	uint8_t n_profiles;
	const struct ocsf_vfill *fills;
	uint16_t n_fills;
};

%(externs)s
#endif
"""


def emit_header(targets):
    return HEADER % {
        "versions": ", ".join(m.version for m in targets),
        "kinds": "\n".join("\tOCSF_VK_%s," % k for k in KINDS),
        "fmts": "\n".join("\tOCSF_VFMT_%s," % k for k in FORMAT_IDS),
        "externs": "\n".join("extern const struct ocsf_vschema ocsf_vschema_%s;"
                             % ident(m.version)[1:] for m in targets) + "\n",
    }


def emit_source(targets, fills):
    out = ["/* Generated by codegen from OCSF %s; DO NOT EDIT. */"
           % ", ".join(m.version for m in targets),
           "/* ocsf_versions.c - see ocsf_versions.h. */",
           "#include \"ocsf_versions.h\"", "", "#include <stddef.h>", ""]
    for m in targets:
        out.extend(_emit_version(m, fills))
        out.append("")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------ schemas
def emit_schemas(targets):
    out = {}
    for m in targets:
        for mi in m.classes:
            out["schema/%s/%s.schema.json" % (m.version, mi.name)] = \
                emit_schema.dump(emit_schema.class_schema(m, mi))
        out["schema/%s/manifest.json" % m.version] = emit_schema.dump(emit_schema.manifest(m))
    return out


# ------------------------------------------------------------ version matrix
def _reach(m, mi):
    seen = set()
    stack = [mi]
    while stack:
        cur = stack.pop()
        for f in cur.fields:
            if f.kind == "OBJECT" and f.object not in seen:
                seen.add(f.object)
                stack.append(m.obj_by_name[f.object])
    return seen


def _live(mi):
    return {f.name: f for f in mi.fields if not f.flags & F_DEPRECATED}


def _enum_drops(fm, ft):
    if fm.enum is None or ft.enum is None or fm.kind != ft.kind:
        return []
    key = 1 if fm.enum.is_str else 0
    have = {it[key] for it in ft.enum.items}
    return [it for it in fm.enum.items if it[key] not in have]


def emit_matrix(main, targets, fills):
    L = ["<!-- Generated by codegen (codegen/emit_versions.py) from OCSF %s and %s; "
         "DO NOT EDIT. -->" % (main.version, ", ".join(m.version for m in targets)),
         "# Version matrix", "",
         "Events are built in OCSF %s. `src/ocsf/ocsf_convert.h` converts one to an older "
         "release by that release's own schema (the rules are in "
         "[siem.md](siem.md#version-matrix)). This page lists, per class and target, what the "
         "conversion drops and what it fills; it is generated from the raw schemas of every "
         "version, so it changes only when a pin or the selection does." % main.version, "",
         "Legend: *attributes* are the class's own; *objects* are object types the class "
         "reaches in %s and the target lacks (every attribute of that type is dropped); "
         "*object attributes* are attributes of object types both versions have; *enum "
         "values* are values the target lacks (an enum attribute with such a value becomes "
         "99 Other where the target has it, else it is dropped, or the event refused if the "
         "attribute is required). *Filled* lists attributes the target requires and %s does "
         "not, with the fill rule (`schema/ocsf.yaml` `fills`): an event in which neither the "
         "attribute nor a source is present is refused." % (main.version, main.version), ""]
    fill_map = {}
    for item, attr, src in fills:
        fill_map[(item, attr)] = src
    L.append("## Summary")
    L.append("")
    L.append("| class | " + " | ".join("%s dropped attrs / objects / object attrs / enum values"
                                        % m.version for m in targets) + " |")
    L.append("|---|" + "---|" * len(targets))
    details = []
    for c in main.classes:
        row = ["`%s` (%d)" % (c.name, c.item.class_uid)]
        for t in targets:
            tc = _item(t, c.name)
            mf, tf = _live(c), _live(tc)
            dropped = sorted(n for n in mf if n not in tf)
            robj = _reach(main, c)
            tobj = _reach(t, tc)
            dobj = sorted(o for o in robj if o not in t.obj_by_name)
            oattr = []
            for o in sorted(robj):
                if o in t.obj_by_name and o in tobj:
                    om, ot = _live(main.obj_by_name[o]), _live(t.obj_by_name[o])
                    oattr.extend("%s.%s" % (o, n) for n in sorted(om) if n not in ot)
            evals = []
            for n in sorted(mf):
                if n in tf:
                    for it in _enum_drops(mf[n], tf[n]):
                        evals.append("%s=%s (%s)" % (n, it[1] if mf[n].enum.is_str else it[0],
                                                      it[2]))
            row.append("%d / %d / %d / %d" % (len(dropped), len(dobj), len(oattr), len(evals)))
            fills_here = []
            for n in sorted(tf):
                ft = tf[n]
                if ft.flags & F_REQUIRED and not (n in mf and mf[n].flags & F_REQUIRED):
                    how = fill_map.get((c.name, n))
                    fills_here.append("`%s`%s: %s" % (
                        n, " (when profile %s is declared)" % ft.profile if ft.profile else "",
                        "from " + ", then ".join("`%s`" % s for s in how) if how
                        else "no fill rule: refused when absent"))
            ofills = []
            for o in sorted(tobj):
                if o not in main.obj_by_name:
                    continue
                om, ot = _live(main.obj_by_name[o]), _live(t.obj_by_name[o])
                for n in sorted(ot):
                    if ot[n].flags & F_REQUIRED and not (n in om and om[n].flags & F_REQUIRED):
                        how = fill_map.get((o, n))
                        ofills.append("`%s.%s`: %s" % (
                            o, n, "from " + ", then ".join("`%s`" % s for s in how) if how
                            else "no fill rule: the object is dropped when optional, else "
                            "the event refused"))
            tprof = set(t.profiles)
            dprof = [pr for pr in main.profiles if pr not in tprof]
            details.append((c, t, dropped, dobj, oattr, evals, fills_here, ofills, dprof))
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    cur = None
    for c, t, dropped, dobj, oattr, evals, fills_here, ofills, dprof in details:
        if cur is not c:
            L.append("## %s (`%s`, %d)" % (c.caption, c.name, c.item.class_uid))
            L.append("")
            cur = c
        L.append("### %s to %s" % (main.version, t.version))
        L.append("")
        L.append("- profiles the target lacks (dropped with their attributes): %s"
                 % (", ".join("`%s`" % p for p in dprof) or "none"))
        L.append("- attributes dropped (%d): %s" % (len(dropped), ", ".join(
            "`%s`" % n for n in dropped) or "none"))
        L.append("- objects dropped (%d): %s" % (len(dobj), ", ".join(
            "`%s`" % n for n in dobj) or "none"))
        L.append("- object attributes dropped (%d): %s" % (len(oattr), ", ".join(
            "`%s`" % n for n in oattr) or "none"))
        L.append("- enum values the target lacks (%d): %s" % (len(evals), "; ".join(
            evals) or "none"))
        L.append("- filled: %s" % ("; ".join(fills_here) or "nothing"))
        L.append("- filled in objects: %s" % ("; ".join(ofills) or "nothing"))
        L.append("")
    return "\n".join(L).rstrip("\n") + "\n"
