"""The log-site registry: load and validate schema/sites.yaml.

DESIGN
schema/sites.yaml is the one list of OCSF log sites. This module reads it
against the generated model (so a site can only name a class, an activity and
a severity the bindings really have) and returns Site objects that
emit_sites.py turns into C, JSON and the docs page. YAML is composed node by
node so every error names the line of the offending row and its key:
"schema/sites.yaml:42: sites[7].activity: ..." - a bad registry fails the
build before anything is written.
"""

import re

import yaml

from .errors import GenError

CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
SUBSYS_RE = re.compile(r"^[a-z0-9_]+(/[a-z0-9_]+)*$")
REQUIRED = ("code", "class", "activity", "severity", "subsystem", "shorthand", "meaning",
            "fired_by_tests")
OPTIONAL = ("why_not", "match")
# A code longer than this would not fit the fixed-size buffers of tools.
CODE_MAX = 48


class Site:
    """One validated row."""

    def __init__(self, row, line, cls, act_const, act_value, sev_const, sev_value):
        self.code = row["code"]
        self.cls = cls                    # model MItem of the class
        self.activity = row["activity"]   # lower-case suffix or "any"
        self.act_const = act_const        # C constant, None for any
        self.act_value = act_value        # int, -1 for any
        self.severity = row["severity"]
        self.sev_const = sev_const
        self.sev_value = sev_value
        self.subsystem = row["subsystem"]
        self.shorthand = row["shorthand"]
        self.meaning = row["meaning"]
        self.fired = row["fired_by_tests"]
        self.why_not = row.get("why_not")
        self.match = row.get("match")
        self.line = line

    @property
    def lower(self):
        return self.code.lower()


class Registry:
    def __init__(self, path, subsystems, sites):
        self.path = path
        self.subsystems = subsystems      # [(name, title)] in file order
        self.sites = sites                # [Site] in file order


def _scalar(node):
    return node.value if isinstance(node, yaml.ScalarNode) else None


def load_registry(path, model, rel=None):
    """Parse and validate the registry; raise GenError naming file:line."""
    shown = rel or path
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise GenError("cannot read the site registry: %s" % e.strerror, shown)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise GenError("invalid YAML: %s" % e, shown)

    def err(node, where, msg):
        line = node.start_mark.line + 1 if node is not None else 1
        raise GenError("%s: %s" % (where, msg), "%s:%d" % (shown, line))

    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        err(root, "/", "the registry must be a mapping with `subsystems` and `sites`")
    top = {_scalar(k): v for k, v in root.value}
    for k in data:
        if k not in ("subsystems", "sites"):
            knode = [kn for kn, _ in root.value if _scalar(kn) == k]
            err(knode[0] if knode else root, str(k), "unknown top-level key (expected "
                "`subsystems` and `sites`)")
    subs_node = top.get("subsystems")
    if not isinstance(subs_node, yaml.MappingNode) or not isinstance(data.get("subsystems"),
                                                                      dict):
        err(subs_node or root, "subsystems", "must map each owner folder to a heading")
    subsystems = []
    for kn, vn in subs_node.value:
        name, title = _scalar(kn), _scalar(vn)
        if not isinstance(name, str) or not SUBSYS_RE.match(name):
            err(kn, "subsystems", "%r is not a folder path like supervisor/core" % name)
        if not isinstance(data["subsystems"].get(name), str) or not title:
            err(vn, "subsystems.%s" % name, "the heading must be a non-empty string")
        subsystems.append((name, data["subsystems"][name]))
    known_subs = {s for s, _ in subsystems}

    sites_node = top.get("sites")
    if not isinstance(sites_node, yaml.SequenceNode) or not isinstance(data.get("sites"), list):
        err(sites_node or root, "sites", "must be a list of site rows")
    classes = {c.name: c for c in model.classes}
    sev_enum = None
    for e in model.enums:
        if e.cname == "severity_id":
            sev_enum = e
    if sev_enum is None:
        raise GenError("the model has no shared severity_id enum", shown)
    sev_by_name = {it[2].lower(): (it[4], it[0]) for it in sev_enum.items}

    seen = {}
    out = []
    for i, (rn, row) in enumerate(zip(sites_node.value, data["sites"])):
        where = "sites[%d]" % i
        if not isinstance(rn, yaml.MappingNode) or not isinstance(row, dict):
            err(rn, where, "a site row must be a mapping")
        knodes = {_scalar(k): k for k, _ in rn.value}
        vnodes = {_scalar(k): v for k, v in rn.value}

        def bad(key, msg):
            err(vnodes.get(key, knodes.get(key, rn)), "%s.%s" % (where, key), msg)

        for k in row:
            if k not in REQUIRED and k not in OPTIONAL:
                err(knodes.get(k, rn), "%s.%s" % (where, k),
                    "unknown key (known: %s)" % ", ".join(REQUIRED + OPTIONAL))
        for k in REQUIRED:
            if k not in row:
                err(rn, "%s.%s" % (where, k), "missing required key")
        for k in ("code", "class", "activity", "severity", "subsystem", "shorthand",
                  "meaning"):
            if not isinstance(row[k], str) or not row[k].strip():
                bad(k, "must be a non-empty string")
        code = row["code"]
        where = "sites[%d] (%s)" % (i, code)
        if not CODE_RE.match(code):
            bad("code", "%r is not an event code ([A-Z][A-Z0-9_]*)" % code)
        if len(code) > CODE_MAX:
            bad("code", "%r is longer than %d characters" % (code, CODE_MAX))
        if code in seen:
            bad("code", "duplicate code %s (first at line %d)" % (code, seen[code]))
        seen[code] = rn.start_mark.line + 1
        cls = classes.get(row["class"])
        if cls is None:
            bad("class", "unknown class %r (known: %s)" % (row["class"], ", ".join(sorted(
                classes))))
        act = cls.by_name["activity_id"].enum
        if row["activity"] == "any":
            act_const, act_value = None, -1
        else:
            prefix = "OCSF_%s_ACTIVITY_ID_" % cls.upper
            match = [it for it in act.items if it[4] == prefix + row["activity"].upper()]
            if not match or row["activity"] != row["activity"].lower():
                bad("activity", "%r is not an activity of %s (known: %s, or any)" % (
                    row["activity"], cls.name,
                    ", ".join(it[4][len(prefix):].lower() for it in act.items)))
            act_const, act_value = match[0][4], match[0][0]
        sev = sev_by_name.get(row["severity"])
        if sev is None:
            bad("severity", "unknown severity %r (known: %s)" % (
                row["severity"], ", ".join(sorted(sev_by_name))))
        if "severity_id" not in cls.by_name:
            bad("class", "class %s has no severity_id" % cls.name)
        if row["subsystem"] not in known_subs:
            bad("subsystem", "%r is not listed under `subsystems` (known: %s)" % (
                row["subsystem"], ", ".join(sorted(known_subs))))
        if not isinstance(row["fired_by_tests"], bool):
            bad("fired_by_tests", "must be true or false")
        why = row.get("why_not")
        if row["fired_by_tests"] is False and (not isinstance(why, str) or not why.strip()):
            err(rn, "%s.why_not" % where, "a site with fired_by_tests: false needs why_not")
        if row["fired_by_tests"] is True and why is not None:
            bad("why_not", "only a site with fired_by_tests: false takes why_not")
        if "\n" in row["meaning"] or "\n" in row["shorthand"]:
            bad("meaning" if "\n" in row["meaning"] else "shorthand", "must be one line")
        pat = row.get("match")
        if pat is not None:
            if not isinstance(pat, str) or not pat:
                bad("match", "must be a non-empty regular expression")
            try:
                rx = re.compile(pat)
            except re.error as e:
                bad("match", "not a valid regular expression: %s" % e)
            if not rx.match(row["shorthand"]):
                bad("match", "does not match the row's own shorthand example %r"
                    % row["shorthand"])
        out.append(Site(row, rn.start_mark.line + 1, cls, act_const, act_value, sev[0],
                        sev[1]))
    if not out:
        err(sites_node, "sites", "the registry lists no site")
    # The census attributes a shorthand line to the one site whose pattern
    # matches it; every example must therefore be claimed by its own row only.
    for a in out:
        for b in out:
            if b is not a and a.match is not None and b.match is not None and \
                    re.match(b.match, a.shorthand):
                raise GenError("sites (%s).match: also matches the shorthand example of %s "
                               "(line %d): make the patterns disjoint" % (b.code, a.code, a.line),
                               "%s:%d" % (shown, b.line))
    return Registry(shown, subsystems, out)
