"""Selection, object closure and C naming.

DESIGN
Turns resolved items into the model every emitter reads, so the C and JSON
Schema outputs cannot disagree:
  * classes from the selection (uid checked), attributes filtered to core +
    selected profiles, the transitive object closure, recursion detection;
  * one Field per attribute with its runtime kind, flags, sibling and
    profile index, sorted by JSON name (the index is the presence bit);
  * enum naming: activity_id is always per class; for every other
    enumerated attribute the value set used by most items gets the shared
    name, items whose set differs get <item>_<attr> (ties: the set of the
    alphabetically first item wins);
  * every generated C identifier is checked for collisions, so a schema
    bump that would produce a clash fails loudly instead of miscompiling.
"""

import os
import re

import yaml

from .errors import GenError
from .resolve import OPEN_OBJECT

C_KEYWORDS = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
    "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
    "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
    "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "bool",
    "true", "false", "alignas", "alignof", "noreturn", "static_assert", "thread_local",
    "complex", "imaginary", "asm", "typeof", "NULL",
    # members the generator itself uses
    "hdr", "ev", "present",
}

# Class-level attributes the runtime fills from the class descriptor.
DERIVED_CLASS = {"class_uid", "class_name", "category_uid", "category_name", "type_uid",
                 "type_name"}
# metadata attributes the runtime fills.
DERIVED_METADATA = {"version", "profiles"}

F_ARRAY, F_REQUIRED, F_RECOMMENDED, F_DEPRECATED, F_CAPTION, F_DERIVED = 1, 2, 4, 8, 16, 32


def mangle_const(s):
    """Caption -> upper-case identifier fragment."""
    s = re.sub(r"[^A-Za-z0-9]+", "_", str(s)).strip("_").upper()
    return s


def member_name(attr):
    return attr + "_" if attr in C_KEYWORDS else attr


def load_selection(path):
    try:
        with open(path, "r", encoding="utf-8") as f:
            sel = yaml.safe_load(f)
    except OSError as e:
        raise GenError("cannot read selection: %s" % e.strerror, path)
    except yaml.YAMLError as e:
        raise GenError("invalid YAML: %s" % e, path)
    if not isinstance(sel, dict):
        raise GenError("selection must be a mapping", path, "/")
    ver = sel.get("version")
    if not isinstance(ver, str) or not re.match(r"^\d+\.\d+\.\d+", ver):
        raise GenError("\"version\" must be a version string like \"1.7.0\"", path, "/version")
    classes = sel.get("classes")
    if not isinstance(classes, dict) or not classes:
        raise GenError("\"classes\" must map class names to class_uid", path, "/classes")
    for k, v in classes.items():
        if not isinstance(k, str) or not isinstance(v, int) or isinstance(v, bool):
            raise GenError("class entry must be <name>: <class_uid>", path, "/classes/%s" % k)
    profiles = sel.get("profiles") or []
    if not isinstance(profiles, list) or not all(isinstance(p, str) for p in profiles):
        raise GenError("\"profiles\" must be a list of names", path, "/profiles")
    if "datetime" in profiles:
        raise GenError("the datetime profile is not supported (its *_dt attributes are "
                       "synthetic and never emitted)", path, "/profiles")
    depth = sel.get("recursion_depth", 1)
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        raise GenError("\"recursion_depth\" must be a non-negative integer", path,
                       "/recursion_depth")
    sel["profiles"] = sorted(set(profiles))
    sel["recursion_depth"] = depth
    sel["_path"] = path
    return sel


class Enum:
    def __init__(self, cname, name, is_str, items):
        self.cname = cname          # C fragment: severity_id / network_activity_activity_id
        self.name = name            # descriptor name: "severity_id" / "network_activity.activity_id"
        self.is_str = is_str
        self.items = items          # sorted list of (value, key, caption, deprecated, const)
        self.c_enum = False         # emit a C enum type (int) / string macros (str)
        self.users = []

    @property
    def table(self):
        return "ocsf_enum_" + self.cname


class Field:
    pass


class MItem:
    def __init__(self, item):
        self.item = item
        self.name = item.name
        self.kind = item.kind
        self.caption = item.caption
        self.fields = []
        self.by_name = {}
        self.constraints = []
        self.recursive = False

    @property
    def upper(self):
        return self.name.upper()


def field_kind(a):
    if a.base == "object_t":
        return "OPEN_OBJECT" if a.object_type == OPEN_OBJECT else "OBJECT"
    if a.enum and a.base in ("integer_t", "long_t"):
        return "ENUM_INT"
    if a.enum and a.base == "string_t":
        return "ENUM_STR"
    return {"string_t": "STRING", "integer_t": "INT", "long_t": "LONG", "float_t": "FLOAT",
            "boolean_t": "BOOL", "json_t": "JSON"}[a.base]


class Model:
    def __init__(self, resolver, sel):
        self.r = resolver
        self.sel = sel
        self.version = resolver.raw.version
        if self.version != sel["version"]:
            raise GenError("schema source is OCSF %s but the selection asks for %s"
                           % (self.version, sel["version"]), sel["_path"], "/version")
        self.profiles = sel["profiles"]
        self.depth = sel["recursion_depth"]
        self._check_profiles()
        self.classes = []
        self.objects = []
        self._build()
        self._enums()
        self._check_names()

    def _check_profiles(self):
        pdir = os.path.join(self.r.raw.root, "profiles")
        known = set()
        if os.path.isdir(pdir):
            for fn in sorted(os.listdir(pdir)):
                if fn.endswith(".json"):
                    d = self.r.raw.profile("profiles/" + fn, "profiles/", "/")
                    if isinstance(d.get("name"), str):
                        known.add(d["name"])
        for i, p in enumerate(self.profiles):
            if p not in known:
                raise GenError("profile %r matches no file in profiles/ (known: %s)"
                               % (p, ", ".join(sorted(known))), self.sel["_path"], "/profiles")

    def keep(self, a):
        return not a.profiles or any(p in self.profiles for p in a.profiles)

    def profile_of(self, a):
        """The selected profile an attribute belongs to (None: core). With
        several candidate profiles the first selected one (sorted) is used."""
        sel = [p for p in a.profiles if p in self.profiles]
        return sel[0] if sel else None

    def _build(self):
        selp = self.sel["_path"]
        for cname, uid in sorted(self.sel["classes"].items()):
            if cname not in self.r.raw.events:
                raise GenError("class %r matches no file in events/" % cname, selp,
                               "/classes/" + cname)
            it = self.r.resolve("class", cname, selp, "/classes/" + cname)
            if it.class_uid != uid:
                raise GenError("class %r resolves to class_uid %d, the selection expects %d"
                               % (cname, it.class_uid, uid), selp, "/classes/" + cname)
            self.classes.append(MItem(it))
        seen = {}
        queue = []

        def visit(mi):
            for a in mi.item.attrs.values():
                if self.keep(a) and a.base == "object_t" and a.object_type != OPEN_OBJECT:
                    if a.object_type not in seen:
                        o = self.r.resolve("object", a.object_type, a.src,
                                           "/attributes/%s/type" % a.name)
                        seen[a.object_type] = MItem(o)
                        queue.append(seen[a.object_type])

        for c in self.classes:
            visit(c)
        while queue:
            visit(queue.pop(0))
        self.objects = [seen[k] for k in sorted(seen)]
        self.obj_by_name = {o.name: o for o in self.objects}
        cls_names = {c.name for c in self.classes}
        for o in self.objects:
            if o.name in cls_names:
                raise GenError("object %r has the same name as a selected class" % o.name,
                               o.item.rel, "/name")
        self.profile_index = {p: i for i, p in enumerate(self.profiles)}
        for mi in self.classes + self.objects:
            self._fields(mi)
        # recursion: an object is recursive when it can reach itself
        edges = {o.name: sorted({f.object for f in o.fields if f.kind == "OBJECT"})
                 for o in self.objects}
        for o in self.objects:
            stack = list(edges[o.name])
            reach = set()
            while stack:
                n = stack.pop()
                if n in reach:
                    continue
                reach.add(n)
                stack.extend(edges.get(n, []))
            o.recursive = o.name in reach

    def _fields(self, mi):
        it = mi.item
        names = sorted(a for a in it.attrs if self.keep(it.attrs[a]))
        for i, an in enumerate(names):
            a = it.attrs[an]
            f = Field()
            f.attr = a
            f.name = an
            f.index = i
            f.member = member_name(an)
            f.kind = field_kind(a)
            f.object = a.object_type if f.kind == "OBJECT" else None
            f.flags = 0
            if a.is_array:
                f.flags |= F_ARRAY
            if a.requirement == "required":
                f.flags |= F_REQUIRED
            elif a.requirement == "recommended":
                f.flags |= F_RECOMMENDED
            if a.deprecated:
                f.flags |= F_DEPRECATED
            if (mi.kind == "class" and an in DERIVED_CLASS) or \
               (mi.kind == "object" and mi.name == "metadata" and an in DERIVED_METADATA):
                f.flags |= F_DERIVED
            f.profile = self.profile_of(a)
            f.profile_index = self.profile_index[a.profile] if a.profile else -1
            f.sibling = -1
            f.enum = None
            f.range = None
            chain = self._type_chain(a.type)
            if "port_t" in chain:
                f.kind = "PORT" if f.kind == "INT" else f.kind
            for t in chain:
                rng = self.r.types.get(t, {}).get("range")
                if isinstance(rng, list) and len(rng) == 2:
                    f.range = (rng[0], rng[1])
                    break
            if f.kind == "PORT" and f.range is None:
                f.range = (0, 65535)
            mi.fields.append(f)
            mi.by_name[an] = f
        for f in mi.fields:
            a = f.attr
            if f.kind in ("ENUM_INT", "ENUM_STR") and a.sibling and a.sibling in mi.by_name:
                s = mi.by_name[a.sibling]
                if s.kind not in ("STRING",) or bool(s.flags & F_ARRAY) != bool(f.flags & F_ARRAY):
                    raise GenError("sibling %r of %r is not a matching string attribute"
                                   % (a.sibling, a.name), a.src, "/attributes/%s/sibling" % a.name)
                f.sibling = s.index
                s.sibling = f.index
                s.flags |= F_CAPTION
        for ck in ("at_least_one", "just_one"):
            names_ = [n for n in it.constraints.get(ck, []) if n in mi.by_name]
            if names_:
                mi.constraints.append((ck == "just_one", sorted(names_)))

    def _type_chain(self, t):
        out = []
        while t in self.r.types and t not in out:
            out.append(t)
            t = self.r.types[t].get("type")
        return out

    def _enums(self):
        """Assign C enum names and descriptor tables."""
        self.enums = []
        groups = {}
        for mi in self.classes + self.objects:
            for f in mi.fields:
                if f.kind not in ("ENUM_INT", "ENUM_STR"):
                    continue
                is_str = f.kind == "ENUM_STR"
                items = self._enum_items(f.attr, is_str)
                if mi.kind == "class" and (f.name == "activity_id" or f.flags & F_DERIVED):
                    e = Enum("%s_%s" % (mi.name, f.name), "%s.%s" % (mi.name, f.name),
                             is_str, items)
                    e.c_enum = not (f.flags & F_DERIVED)
                    e.users.append((mi.name, f.name))
                    f.enum = e
                    self.enums.append(e)
                    continue
                sig = tuple((it[0], it[2]) for it in items)
                groups.setdefault(f.name, {}).setdefault(sig, []).append((mi, f, items))
        for attr in sorted(groups):
            sets = groups[attr]
            # the set used by most items; ties -> the set of the first item by name
            best = sorted(sets.items(),
                          key=lambda kv: (-len(kv[1]), min(m.name for m, _, _ in kv[1])))[0][0]
            for sig, users in sorted(sets.items(), key=lambda kv: min(m.name for m, _, _ in kv[1])):
                if sig == best:
                    e = Enum(attr, attr, users[0][1].kind == "ENUM_STR", users[0][2])
                    e.c_enum = True
                    for mi, f, _ in users:
                        f.enum = e
                        e.users.append((mi.name, f.name))
                    self.enums.append(e)
                else:
                    for mi, f, items in sorted(users, key=lambda u: u[0].name):
                        e = Enum("%s_%s" % (mi.name, attr), "%s.%s" % (mi.name, attr),
                                 f.kind == "ENUM_STR", items)
                        e.c_enum = True
                        e.users.append((mi.name, f.name))
                        f.enum = e
                        self.enums.append(e)
        self.enums.sort(key=lambda e: e.cname)
        for e in self.enums:
            prefix = "OCSF_" + e.cname.upper() + "_"
            used = {}
            out = []
            for value, key, cap, dep, _ in e.items:
                frag = mangle_const(key if e.is_str else cap) or "V%s" % mangle_const(value)
                used.setdefault(frag, []).append(value)
                out.append([value, key, cap, dep, frag])
            for row in out:
                vals = used[row[4]]
                if len(vals) > 1 and row[0] != vals[0]:
                    row[4] = "%s_%s" % (row[4], mangle_const(row[0]))
                row[4] = prefix + row[4]
            e.items = [tuple(r) for r in out]

    def _enum_items(self, a, is_str):
        rows = []
        for k, v in a.enum.items():
            if is_str:
                rows.append((None, str(k), v["caption"], bool(v["deprecated"]), None))
            else:
                rows.append((int(k), None, v["caption"], bool(v["deprecated"]), None))
        if is_str:
            rows.sort(key=lambda r: r[1])
            rows = [(i, r[1], r[2], r[3], None) for i, r in enumerate(rows)]
        else:
            rows.sort(key=lambda r: r[0])
        return rows

    def _check_names(self):
        """Every generated identifier must be unique (C tags, functions,
        macros, constants)."""
        seen = {}

        def add(ident, what):
            if ident in seen and seen[ident] != what:
                raise GenError("generated C name %s would be used twice: %s and %s"
                               % (ident, seen[ident], what))
            seen[ident] = what

        for mi in self.classes + self.objects:
            add("tag:ocsf_" + mi.name, "struct for %s" % mi.name)
            add("ocsf_%s_desc" % mi.name, "descriptor of %s" % mi.name)
            if mi.kind == "class":
                add("ocsf_%s_class" % mi.name, "class descriptor of %s" % mi.name)
                add("ocsf_%s_init" % mi.name, "init of %s" % mi.name)
            add("ocsf_%s_fields" % mi.name, "field table of %s" % mi.name)
            for f in mi.fields:
                what = "%s.%s" % (mi.name, f.name)
                add("OCSF_%s_F_%s" % (mi.upper, f.name.upper()), what)
                for fn in self.func_names(mi, f):
                    add(fn, what)
        for e in self.enums:
            add("tag:ocsf_" + e.cname, "enum %s" % e.name)
            add(e.table, "enum table %s" % e.name)
            if e.c_enum:
                for it in e.items:
                    add(it[4], "enum %s value %s" % (e.name, it[0] if not e.is_str else it[1]))

    @staticmethod
    def func_names(mi, f):
        p = "ocsf_%s_" % mi.name
        if f.flags & F_DERIVED:
            return []
        if f.kind == "OPEN_OBJECT":
            return [p + "add_%s_%s" % (f.name, s) for s in ("str", "int", "bool", "float", "json")]
        if f.flags & F_ARRAY:
            return [p + "add_" + f.name]
        if f.kind == "OBJECT":
            return [p + f.name]
        return [p + "set_" + f.name]
