"""Load and validate a raw OCSF schema source tree.

DESIGN
The generator reads the official ocsf-schema repository layout (version.json,
categories.json, dictionary.json, events/**, objects/**, profiles/**,
metaschema/) and nothing produced by a schema server, so it never depends on
an output shape that changes between server releases. Every file it reads is
validated against the tree's own metaschema/ first (JSON Schema draft
2020-12, resolved through a local store: no network). extensions/ is ignored
on purpose (see docs/codegen.md).
"""

import json
import os

from .errors import GenError, jpath

# file kind -> metaschema file name
METASCHEMA_FOR = {
    "dictionary": "dictionary.schema.json",
    "categories": "categories.schema.json",
    "event": "event.schema.json",
    "object": "object.schema.json",
    "profile": "profile.schema.json",
}


def read_json(path, rel=None):
    """Parse one JSON file; errors name the file and the position."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise GenError("cannot read: %s" % e.strerror, rel or path)
    except ValueError as e:
        raise GenError("invalid JSON: %s" % e, rel or path)


def find_schema_dir(repo_root, version, env=None):
    """Return the raw schema directory to use, or raise GenError listing
    every place that was tried. Order: $OCSF_SCHEMA_DIR, schema/ocsf-<v>/,
    ../shared/ocsf-schema/<v>/ (relative to the repository root)."""
    env = os.environ if env is None else env
    tried = []
    cand = []
    if env.get("OCSF_SCHEMA_DIR"):
        cand.append(("$OCSF_SCHEMA_DIR", env["OCSF_SCHEMA_DIR"]))
    else:
        tried.append("$OCSF_SCHEMA_DIR (not set)")
    cand.append(("pinned fetch", os.path.join(repo_root, "schema", "ocsf-" + version)))
    cand.append(("shared copy", os.path.normpath(
        os.path.join(repo_root, "..", "shared", "ocsf-schema", version))))
    for what, d in cand:
        if os.path.isfile(os.path.join(d, "dictionary.json")):
            return os.path.abspath(d)
        tried.append("%s: %s (no dictionary.json)" % (what, d))
    raise GenError(
        "no OCSF %s schema source found; looked in:\n  %s\n"
        "fetch it with tools/ocsf-fetch-schema %s or set OCSF_SCHEMA_DIR"
        % (version, "\n  ".join(tried), version))


class Validator:
    """Metaschema validation with a local $ref store: RefResolver + store on
    jsonschema 4.10 (Debian 12), a `referencing` registry when available."""

    def __init__(self, root):
        import jsonschema

        self.jsonschema = jsonschema
        mdir = os.path.join(root, "metaschema")
        if not os.path.isdir(mdir):
            raise GenError("missing metaschema/ directory", root)
        store = {}
        self.schemas = {}
        for name in sorted(os.listdir(mdir)):
            if not name.endswith(".json"):
                continue
            rel = "metaschema/" + name
            s = read_json(os.path.join(mdir, name), rel)
            if not isinstance(s, dict):
                raise GenError("metaschema is not an object", rel)
            try:
                jsonschema.Draft202012Validator.check_schema(s)
            except jsonschema.exceptions.SchemaError as e:
                raise GenError("bad metaschema: %s" % e.message, rel,
                               jpath(*e.absolute_path))
            if "$id" in s:
                store[s["$id"]] = s
            self.schemas[name] = s
        self.store = store

    def _validator(self, schema):
        js = self.jsonschema
        try:
            # jsonschema >= 4.18 resolves through `referencing` (RefResolver
            # is deprecated there); Debian 12 ships 4.10, which has only
            # RefResolver.
            from referencing import Registry, Resource
        except ImportError:
            resolver = js.RefResolver(base_uri=schema.get("$id", ""), referrer=schema,
                                      store=self.store)
            return js.Draft202012Validator(schema, resolver=resolver)
        reg = Registry().with_resources(
            [(uri, Resource.from_contents(s)) for uri, s in sorted(self.store.items())])
        return js.Draft202012Validator(schema, registry=reg)

    def validate(self, kind, data, rel):
        name = METASCHEMA_FOR[kind]
        schema = self.schemas.get(name)
        if schema is None:
            raise GenError("metaschema/%s not found" % name, rel)
        v = self._validator(schema)
        errs = sorted(v.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
        if errs:
            e = errs[0]
            raise GenError("does not match metaschema/%s: %s%s" % (
                name, e.message[:300],
                " (and %d more)" % (len(errs) - 1) if len(errs) > 1 else ""),
                rel, jpath(*e.absolute_path))


class RawSchema:
    """The raw files of one schema tree, keyed by name, validated."""

    def __init__(self, root, validate=True):
        self.root = os.path.abspath(root)
        self.validator = Validator(self.root) if validate else None
        self._profiles = {}
        vpath = os.path.join(self.root, "version.json")
        v = read_json(vpath, "version.json")
        if not isinstance(v, dict) or not isinstance(v.get("version"), str):
            raise GenError("expected {\"version\": \"x.y.z\"}", "version.json", "/version")
        self.version = v["version"]
        self.categories = self._load("categories.json", "categories")
        self.dictionary = self._load("dictionary.json", "dictionary")
        self.events = self._load_dir("events", "event")
        self.objects = self._load_dir("objects", "object")

    def _load(self, rel, kind):
        data = read_json(os.path.join(self.root, rel), rel)
        if not isinstance(data, dict):
            raise GenError("top level is not a JSON object", rel, "/")
        if self.validator:
            self.validator.validate(kind, data, rel)
        return data

    def _load_dir(self, sub, kind):
        """name -> (rel path, data) for every *.json under sub/."""
        out = {}
        base = os.path.join(self.root, sub)
        if not os.path.isdir(base):
            raise GenError("missing %s/ directory" % sub, self.root)
        files = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for fn in sorted(filenames):
                if fn.endswith(".json"):
                    files.append(os.path.relpath(os.path.join(dirpath, fn), self.root))
        for rel in sorted(files):
            data = self._load(rel, kind)
            name = data.get("name")
            if not isinstance(name, str):
                raise GenError("missing \"name\"", rel, "/name")
            if name in out:
                raise GenError("duplicate %s name %r (also in %s)" % (kind, name, out[name][0]),
                               rel, "/name")
            out[name] = (rel, data)
        return out

    def profile(self, rel, referrer, where):
        """Load an $include target (a path relative to the schema root)."""
        if not isinstance(rel, str) or rel.startswith("/") or ".." in rel.split("/"):
            raise GenError("bad $include path %r" % (rel,), referrer, where)
        if rel not in self._profiles:
            path = os.path.join(self.root, rel)
            if not os.path.isfile(path):
                raise GenError("$include target %s does not exist" % rel, referrer, where)
            data = read_json(path, rel)
            if not isinstance(data, dict):
                raise GenError("top level is not a JSON object", rel, "/")
            if self.validator and data.get("meta") == "profile":
                self.validator.validate("profile", data, rel)
            self._profiles[rel] = data
        return self._profiles[rel]
