"""Resolve raw OCSF items into flat classes and objects.

DESIGN
Implements the resolution rules of the OCSF schema compiler (see
docs/codegen.md and /work/shared/reference/ocsf-schema.md sections 1-2) on
the raw source, lazily, only for the items the selection reaches:

  $include   profile attributes are stamped with "profile", the profile's
             annotations go underneath each attribute, and the result is
             merged UNDER the including file's own attributes (earlier
             includes win over later ones).
  extends    parent first; attributes deep-merged (child wins, explicit
             null included, a null attribute is removed); top-level keys
             child-wins; "profiles" concatenated; constraints replaced.
  dictionary final attribute = deep_merge(dictionary entry, item entry):
             caption/description/requirement/type narrowing override, enum
             values are unioned per key.
  identity   class_uid = category_uid*1000 + uid; the type_uid, class_uid
             and category_uid enums are rebuilt for the class.

Each resolved attribute records the file that last defined it so errors
name the right file.
"""

from .errors import GenError, jpath

PRIMITIVES = ("string_t", "integer_t", "long_t", "float_t", "boolean_t", "json_t")
OPEN_OBJECT = "object"


def deep_merge(left, right):
    """Key-wise recursive merge; right wins, including an explicit None.
    An empty dict on either side keeps the other side."""
    if left is None:
        return right
    if right is None:
        return left
    if isinstance(left, dict) and isinstance(right, dict):
        if not left:
            return right
        if not right:
            return left
        out = dict(left)
        for k, rv in right.items():
            if k in out and isinstance(out[k], dict) and isinstance(rv, dict):
                out[k] = deep_merge(out[k], rv)
            else:
                out[k] = rv
        return out
    return right


class Attr:
    """One resolved attribute of a class or object."""

    __slots__ = ("name", "caption", "description", "type", "base", "object_type",
                 "is_array", "enum", "profile", "requirement", "deprecated", "sibling",
                 "src", "raw", "type_info", "profiles")

    def __repr__(self):
        return "Attr(%s:%s)" % (self.name, self.type)


class Item:
    """A resolved class (kind "class") or object (kind "object")."""

    def __init__(self, kind, name, rel):
        self.kind = kind
        self.name = name
        self.rel = rel
        self.caption = name
        self.description = ""
        self.attrs = {}
        self.constraints = {}
        self.profiles = []
        self.deprecated = None
        self.uid = None
        self.class_uid = None
        self.category = None
        self.category_uid = None
        self.category_name = None
        self.extends = []

    def __repr__(self):
        return "Item(%s %s)" % (self.kind, self.name)


class Resolver:
    def __init__(self, raw):
        self.raw = raw
        self.dict_attrs = raw.dictionary.get("attributes", {})
        self.types = raw.dictionary.get("types", {}).get("attributes", {})
        self._merged = {}
        self._final = {}
        self._busy = set()

    # ------------------------------------------------------------- types
    def type_base(self, t, rel, where):
        """Primitive base of a data type name (follows subtype chains)."""
        seen = []
        cur = t
        while True:
            if cur in seen:
                raise GenError("data type cycle %s" % " -> ".join(seen + [cur]),
                               "dictionary.json", "/types/attributes/" + t)
            seen.append(cur)
            if cur not in self.types:
                raise GenError("unknown data type %r" % cur, rel, where)
            parent = self.types[cur].get("type")
            if parent is None or parent == cur:
                if cur not in PRIMITIVES:
                    raise GenError("data type %r has no known primitive base" % t,
                                   "dictionary.json", "/types/attributes/" + cur)
                return cur
            cur = parent

    def is_object_type(self, t):
        return t == OPEN_OBJECT or t in self.raw.objects

    # --------------------------------------------------------- includes
    def _expand_includes(self, rel, attrs):
        """Return attrs with $include resolved (includes merged under)."""
        if not isinstance(attrs, dict):
            raise GenError("\"attributes\" must be an object", rel, "/attributes")
        inc = attrs.get("$include")
        own = {}
        for k, v in attrs.items():
            if k == "$include":
                continue
            if v is not None and not isinstance(v, dict):
                raise GenError("attribute entry must be an object", rel, jpath("attributes", k))
            if isinstance(v, dict):
                if "$include" in v:
                    v = self._attr_include(rel, k, v)
                v = dict(v)
                v["_src"] = rel
            own[k] = v
        if inc is None:
            return own
        incs = [inc] if isinstance(inc, str) else inc
        if not isinstance(incs, list):
            raise GenError("$include must be a string or a list", rel, "/attributes/$include")
        merged = {}
        # earlier includes win: merge later ones first, earlier on top.
        for i in reversed(range(len(incs))):
            where = "/attributes/$include" + ("" if isinstance(inc, str) else "/%d" % i)
            prof = self.raw.profile(incs[i], rel, where)
            pattrs = prof.get("attributes", {})
            if not isinstance(pattrs, dict):
                raise GenError("\"attributes\" must be an object", incs[i], "/attributes")
            ann = prof.get("annotations") or {}
            is_profile = prof.get("meta") == "profile"
            pname = prof.get("name")
            if is_profile and not isinstance(pname, str):
                raise GenError("profile without a name", incs[i], "/name")
            block = {}
            for k, v in sorted(pattrs.items()):
                if k == "$include":
                    raise GenError("nested $include in an included file is not supported",
                                   incs[i], "/attributes/$include")
                if not isinstance(v, dict):
                    raise GenError("attribute entry must be an object", incs[i],
                                   jpath("attributes", k))
                a = deep_merge(dict(ann), dict(v))
                if is_profile:
                    a["profile"] = pname
                a["_src"] = incs[i]
                block[k] = a
            merged = deep_merge(merged, block)
        return deep_merge(merged, own)

    def _includes(self, rel, inc, where):
        incs = [inc] if isinstance(inc, str) else inc
        if not isinstance(incs, list) or not all(isinstance(x, str) for x in incs):
            raise GenError("$include must be a string or a list of strings", rel, where)
        return [(x, where + ("" if isinstance(inc, str) else "/%d" % i))
                for i, x in enumerate(incs)]

    def _attr_include(self, rel, name, attr):
        """Attribute-level $include (e.g. a shared enum file): the included
        files' content goes under the attribute's own keys, earlier wins."""
        where = jpath("attributes", name, "$include")
        merged = {}
        for path, w in reversed(self._includes(rel, attr["$include"], where)):
            d = self.raw.profile(path, rel, w)
            merged = deep_merge(merged, {k: v for k, v in d.items()
                                         if k not in ("name", "meta", "$include")})
        return deep_merge(merged, {k: v for k, v in attr.items() if k != "$include"})

    def _file_include(self, rel, data):
        """File-level $include: other files' top-level keys and attributes
        go under the including file's own (earlier includes win)."""
        inc = data.get("$include")
        if inc is None:
            return data
        merged = {}
        for path, w in reversed(self._includes(rel, inc, "/$include")):
            d = self.raw.profile(path, rel, w)
            d = {k: v for k, v in d.items() if k not in ("name", "meta", "$include")}
            if "attributes" in d:
                d["attributes"] = self._expand_includes(path, d["attributes"])
            merged = deep_merge(merged, d)
        own = {k: v for k, v in data.items() if k != "$include"}
        return deep_merge(merged, own)

    # ---------------------------------------------------------- extends
    def _table(self, kind):
        return self.raw.events if kind == "class" else self.raw.objects

    def merged(self, kind, name, referrer=None, where=None):
        """Raw item with includes and the extends chain applied."""
        key = (kind, name)
        if key in self._merged:
            return self._merged[key]
        table = self._table(kind)
        if name not in table:
            raise GenError("%s %r not found" % ("event class" if kind == "class" else "object",
                                                name), referrer, where)
        if key in self._busy:
            raise GenError("extends cycle through %r" % name, table[name][0], "/extends")
        self._busy.add(key)
        rel, data = table[name]
        attrs = self._expand_includes(rel, data.get("attributes", {}))
        if "$include" in data:
            inc = self._file_include(rel, {"$include": data["$include"]})
            data = deep_merge({k: v for k, v in inc.items() if k != "attributes"},
                              {k: v for k, v in data.items() if k != "$include"})
            attrs = deep_merge(inc.get("attributes") or {}, attrs)
        top = {k: v for k, v in data.items() if k != "attributes"}
        chain = [rel]
        parent = data.get("extends")
        if parent is not None and parent != name:
            if not isinstance(parent, str):
                raise GenError("\"extends\" must be a string", rel, "/extends")
            p = self.merged(kind, parent, rel, "/extends")
            attrs = deep_merge(p["attributes"], attrs)
            ptop = {k: v for k, v in p.items() if k not in ("attributes", "_chain")}
            profiles = list(ptop.get("profiles") or [])
            for pr in top.get("profiles") or []:
                if pr not in profiles:
                    profiles.append(pr)
            for k, v in top.items():
                if v is not None:
                    ptop[k] = v
            ptop["profiles"] = profiles
            top = ptop
            chain = p["_chain"] + chain
        elif parent == name:
            raise GenError("patch files (extends == name) are only used by extensions",
                           rel, "/extends")
        attrs = {k: v for k, v in attrs.items() if v is not None}
        top["attributes"] = attrs
        top["_chain"] = chain
        top["name"] = name
        self._busy.discard(key)
        self._merged[key] = top
        return top

    # ------------------------------------------------------------ final
    def resolve(self, kind, name, referrer=None, where=None):
        key = (kind, name)
        if key in self._final:
            return self._final[key]
        m = self.merged(kind, name, referrer, where)
        rel = self._table(kind)[name][0]
        it = Item(kind, name, rel)
        it.caption = m.get("caption") or name
        it.description = m.get("description") or ""
        it.deprecated = m.get("@deprecated")
        it.profiles = list(m.get("profiles") or [])
        it.extends = m["_chain"]
        cons = m.get("constraints") or {}
        if not isinstance(cons, dict):
            raise GenError("\"constraints\" must be an object", rel, "/constraints")
        for ck, cv in sorted(cons.items()):
            if ck not in ("at_least_one", "just_one"):
                continue  # unknown constraint kinds are tolerated (documented)
            if not isinstance(cv, list) or not all(isinstance(x, str) for x in cv):
                raise GenError("constraint must be a list of attribute names", rel,
                               jpath("constraints", ck))
            it.constraints[ck] = list(cv)
        for an in sorted(m["attributes"]):
            it.attrs[an] = self._final_attr(it, an, m["attributes"][an])
        for ck, cv in it.constraints.items():
            for x in cv:
                if x not in it.attrs:
                    raise GenError("constraint %s names unknown attribute %r" % (ck, x), rel,
                                   jpath("constraints", ck))
        if kind == "class":
            self._class_identity(it, m)
        if kind == "object" and name == "observable" and "type_id" in it.attrs:
            self._observable_types(it.attrs["type_id"])
        self._final[key] = it
        return it

    # ------------------------------------------------------- observables
    def _observable_types(self, attr):
        """The observable object's type_id enum, as the schema defines it: the
        raw file lists only 0 and 99; every other value is declared where it
        applies by an `observable` number on a data type, a dictionary
        attribute, an object, an attribute of an object or class, or a class's
        `observables` map. Captions: the type's, the attribute's, the
        object's, "<Object>: <Attribute>" for an attribute of an object (the
        schema browser's form) and "<Class>: <path>" for a class path. A
        number given twice keeps its first source in that order."""
        found = {}

        def add(num, caption, src, where):
            if not isinstance(num, int) or isinstance(num, bool):
                raise GenError("\"observable\" must be an integer", src, where)
            found.setdefault(num, caption)

        for tn in sorted(self.types):
            t = self.types[tn]
            if "observable" in t:
                add(t["observable"], t.get("caption") or tn, "dictionary.json",
                    jpath("types", "attributes", tn, "observable"))
        for an in sorted(self.dict_attrs):
            d = self.dict_attrs[an]
            if isinstance(d, dict) and "observable" in d:
                add(d["observable"], d.get("caption") or an, "dictionary.json",
                    jpath("attributes", an, "observable"))
        for kind in ("object", "class"):
            table = self._table(kind)
            for n in sorted(table):
                rel, data = table[n]
                cap = data.get("caption") or n
                if kind == "object" and "observable" in data:
                    add(data["observable"], cap, rel, "/observable")
                for an in sorted(data.get("attributes") or {}):
                    av = data["attributes"][an]
                    if isinstance(av, dict) and "observable" in av:
                        acap = av.get("caption") or \
                            (self.dict_attrs.get(an) or {}).get("caption") or an
                        add(av["observable"], "%s: %s" % (cap, acap), rel,
                            jpath("attributes", an, "observable"))
                for path, num in sorted((data.get("observables") or {}).items()):
                    add(num, "%s: %s" % (cap, path), rel, jpath("observables", path))
        if attr.enum is None:
            attr.enum = {}
        for num in sorted(found):
            if num not in attr.enum:
                attr.enum[num] = {"caption": found[num], "description": "", "deprecated": None}
        attr.enum = dict(sorted(attr.enum.items()))

    def _final_attr(self, it, an, ia):
        src = ia.get("_src", it.rel)
        where = jpath("attributes", an)
        if an not in self.dict_attrs:
            raise GenError("attribute %r is not defined in dictionary.json" % an, src, where)
        d = self.dict_attrs[an]
        f = deep_merge(dict(d), {k: v for k, v in ia.items()})
        a = Attr()
        a.name = an
        a.src = src
        a.raw = f
        a.caption = f.get("caption") or an
        a.description = f.get("description") or ""
        t = f.get("type")
        if not isinstance(t, str):
            raise GenError("attribute %r has no type" % an, src, where + "/type")
        a.type = t
        dt = d.get("type")
        if self.is_object_type(t):
            a.base = "object_t"
            a.object_type = t
            if t != dt:
                # object narrowing: the item type must extend the dictionary type
                if not (isinstance(dt, str) and self.is_object_type(dt)
                        and self._object_extends(t, dt)):
                    raise GenError("type %r does not narrow the dictionary type %r" % (t, dt),
                                   src, where + "/type")
        elif t in self.types:
            a.base = self.type_base(t, src, where + "/type")
            a.object_type = None
            if t != dt:
                dbase = self.type_base(dt, "dictionary.json",
                                       jpath("attributes", an, "type")) \
                    if dt in self.types else None
                if dbase != a.base:
                    raise GenError("type %r does not narrow the dictionary type %r" % (t, dt),
                                   src, where + "/type")
        else:
            raise GenError("unknown type %r (neither a data type nor an object)" % t,
                           src if "type" in ia else "dictionary.json",
                           where + "/type" if "type" in ia else jpath("attributes", an, "type"))
        a.type_info = self.types.get(t, {})
        a.is_array = bool(f.get("is_array", False))
        enum = f.get("enum")
        if enum is not None and not isinstance(enum, dict):
            raise GenError("enum must be an object", src, where + "/enum")
        a.enum = None
        if enum:
            a.enum = {}
            for k, v in enum.items():
                if not isinstance(v, dict):
                    raise GenError("enum value must be an object", src, where + "/enum/" + k)
                if a.base in ("integer_t", "long_t"):
                    try:
                        key = int(k)
                    except ValueError:
                        raise GenError("integer enum key %r is not a number" % k, src,
                                       where + "/enum/" + k)
                else:
                    key = k
                a.enum[key] = {"caption": v.get("caption") or str(k),
                               "description": v.get("description") or "",
                               "deprecated": v.get("@deprecated")}
        a.profile = f.get("profile")
        # Newer releases may list several profiles per attribute ("profiles");
        # the attribute then belongs to any of them.
        plist = f.get("profiles")
        a.profiles = [a.profile] if a.profile else \
            sorted(x for x in plist if isinstance(x, str)) if isinstance(plist, list) else []
        req = f.get("requirement") or "optional"
        if req not in ("required", "recommended", "optional"):
            raise GenError("unknown requirement %r" % req, src, where + "/requirement")
        a.requirement = req
        a.deprecated = f.get("@deprecated")
        a.sibling = f.get("sibling")
        return a

    def _object_extends(self, child, parent):
        name = child
        seen = set()
        while name and name not in seen:
            if name == parent:
                return True
            seen.add(name)
            if name not in self.raw.objects:
                return False
            name = self.raw.objects[name][1].get("extends")
        return False

    def _class_identity(self, it, m):
        rel = it.rel
        uid = m.get("uid")
        if uid is None and it.name != "base_event":
            raise GenError("class %r has no uid (hidden category base)" % it.name, rel, "/uid")
        if uid is None:
            uid = 0
        if not isinstance(uid, int):
            raise GenError("uid must be an integer", rel, "/uid")
        it.uid = uid
        cat = m.get("category")
        it.category = cat
        cats = self.raw.categories.get("attributes", {})
        if isinstance(cat, str) and cat in cats:
            it.category_uid = int(cats[cat]["uid"])
            it.category_name = cats[cat].get("caption") or cat
        else:
            it.category_uid = 0
            cu = it.attrs.get("category_uid")
            cap = None
            if cu is not None and cu.enum and 0 in cu.enum:
                cap = cu.enum[0]["caption"]
            it.category_name = cap or "Uncategorized"
        it.class_uid = it.category_uid * 1000 + uid
        act = it.attrs.get("activity_id")
        if act is None or not act.enum:
            raise GenError("class %r has no activity_id enum" % it.name, rel, "/attributes")
        tu = it.attrs.get("type_uid")
        if tu is not None:
            en = {}
            for k, v in act.enum.items():
                en[it.class_uid * 100 + k] = {
                    "caption": "%s: %s" % (it.caption, v["caption"]),
                    "description": v["description"], "deprecated": v["deprecated"]}
            en[it.class_uid * 100] = {"caption": "%s: Unknown" % it.caption,
                                      "description": "", "deprecated": None}
            tu.enum = en
        cu = it.attrs.get("class_uid")
        if cu is not None:
            cu.enum = {it.class_uid: {"caption": it.caption, "description": it.description,
                                      "deprecated": None}}
        ca = it.attrs.get("category_uid")
        if ca is not None:
            ca.enum = {it.category_uid: {"caption": it.category_name, "description": "",
                                         "deprecated": None}}
