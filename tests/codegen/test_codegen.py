"""Unit tests for codegen/: one test per resolution, naming and emit rule.

DESIGN
Every test builds a tiny hand-made OCSF tree (fixture.py) in a temporary
directory and runs the real pipeline on it; the last group checks the
committed generated/ output (compiles with the project's warnings, JSON
Schemas accept a realistic event and reject specific mistakes). Run from the
repository root: python3 -m unittest discover -s tests/codegen -t .
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import fixture  # noqa: E402
from codegen import emit_c, emit_schema, emit_sites  # noqa: E402
from codegen.__main__ import compare, main as codegen_main  # noqa: E402
from codegen.errors import GenError  # noqa: E402
from codegen.loader import RawSchema, find_schema_dir  # noqa: E402
from codegen.model import (F_CAPTION, F_DEPRECATED, F_DERIVED, F_RECOMMENDED,  # noqa: E402
                           F_REQUIRED, Model, load_selection)
from codegen.resolve import Resolver, deep_merge  # noqa: E402
from codegen.sites import load_registry  # noqa: E402

WARN = ["-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wformat=2", "-Wstrict-prototypes",
        "-Wmissing-prototypes", "-Wold-style-definition", "-Wpointer-arith", "-Wcast-qual",
        "-Wwrite-strings", "-Wvla", "-Wundef", "-Wnull-dereference", "-Wenum-conversion",
        "-Wimplicit-fallthrough", "-fno-common", "-D_GNU_SOURCE", "-Werror"]
CC = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="codegen-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def model(self, changes=None, remove=(), selection=None, validate=True):
        sroot, selp = fixture.write(fixture.tree(changes, remove), self.tmp, selection)
        raw = RawSchema(sroot, validate=validate)
        return Model(Resolver(raw), load_selection(selp))

    def error(self, changes=None, remove=(), selection=None):
        with self.assertRaises(GenError) as cm:
            self.model(changes, remove, selection)
        return cm.exception

    @staticmethod
    def item(m, name):
        for mi in m.classes + m.objects:
            if mi.name == name:
                return mi
        raise KeyError(name)


class TestDeepMerge(unittest.TestCase):
    def test_right_wins_and_recurses(self):
        self.assertEqual(deep_merge({"a": 1, "b": {"x": 1, "y": 2}}, {"b": {"y": 3}, "c": 4}),
                         {"a": 1, "b": {"x": 1, "y": 3}, "c": 4})

    def test_explicit_null_wins(self):
        self.assertEqual(deep_merge({"profile": "host"}, {"profile": None}), {"profile": None})

    def test_empty_side_keeps_other(self):
        self.assertEqual(deep_merge({"a": {"k": 1}}, {"a": {}}), {"a": {"k": 1}})
        self.assertEqual(deep_merge({}, {"a": 1}), {"a": 1})
        self.assertEqual(deep_merge(None, {"a": 1}), {"a": 1})


class TestResolution(Base):
    def test_extends_chain_and_class_identity(self):
        m = self.model()
        c = self.item(m, "net_activity")
        self.assertEqual(c.item.class_uid, 4001)
        self.assertEqual(c.item.category_uid, 4)
        self.assertEqual(c.item.category_name, "Network Activity")
        # inherited from base_event through net
        self.assertIn("severity_id", c.by_name)
        self.assertIn("peers", c.by_name)
        b = self.item(m, "base_event")
        self.assertEqual((b.item.class_uid, b.item.category_uid, b.item.category_name),
                         (0, 0, "Uncategorized"))

    def test_type_uid_enum_is_derived_from_activity(self):
        c = self.item(self.model(), "net_activity")
        tu = {it[0]: it[2] for it in c.by_name["type_uid"].enum.items}
        self.assertEqual(tu, {400100: "Net Activity: Unknown", 400101: "Net Activity: Open",
                              400102: "Net Activity: Close", 400199: "Net Activity: Other"})
        self.assertEqual([it[0] for it in c.by_name["class_uid"].enum.items], [4001])
        self.assertEqual([it[0] for it in c.by_name["category_uid"].enum.items], [4])

    def test_include_stamps_profile_and_annotations(self):
        b = self.item(self.model(), "base_event")
        f = b.by_name["flag"]
        self.assertEqual(f.profile, "host")
        self.assertEqual(f.attr.raw.get("group"), "primary")  # annotation
        self.assertTrue(f.flags & F_REQUIRED)

    def test_includer_wins_over_profile(self):
        def own(d):
            d["attributes"]["flag"] = {"requirement": "optional"}
        f = self.item(self.model({"events/base_event.json": own}), "base_event").by_name["flag"]
        self.assertEqual(f.attr.requirement, "optional")
        self.assertEqual(f.profile, "host")  # still stamped: only keys given are overridden

    def test_earlier_include_wins(self):
        def two(d):
            d["attributes"]["$include"] = ["profiles/host.json", "profiles/host2.json"]
        h2 = {"name": "host2", "meta": "profile", "caption": "Host 2",
              "attributes": {"flag": {"requirement": "optional"}}}
        m = self.model({"events/base_event.json": two, "profiles/host2.json": h2},
                       selection=dict(fixture.SELECTION, profiles=["container", "host", "host2"]))
        f = self.item(m, "base_event").by_name["flag"]
        self.assertEqual((f.profile, f.attr.requirement), ("host", "required"))

    def test_profile_null_makes_core(self):
        m = self.model()
        self.assertEqual(self.item(m, "base_event").by_name["endpoint"].profile, "host")
        self.assertIsNone(self.item(m, "net_activity").by_name["endpoint"].profile)

    def test_unselected_profile_attributes_are_dropped(self):
        m = self.model(selection=dict(fixture.SELECTION, profiles=["container"]))
        self.assertNotIn("flag", self.item(m, "base_event").by_name)
        self.assertIn("endpoint", self.item(m, "net_activity").by_name)  # core there

    def test_object_profile_reaches_objects(self):
        ep = self.item(self.model(), "endpoint")
        self.assertEqual(ep.by_name["container"].profile, "container")

    def test_constraints_replaced_not_merged(self):
        def cons(d):
            d["constraints"] = {"at_least_one": ["peers"]}
        m = self.model({"events/network/net_activity.json": cons})
        self.assertEqual(self.item(m, "net_activity").constraints, [(False, ["peers"])])
        m = self.model()
        self.assertEqual(self.item(m, "net_activity").constraints,
                         [(False, ["endpoint", "peers"])])

    def test_object_extends_hidden_parent(self):
        m = self.model()
        ep = self.item(m, "endpoint")
        self.assertIn("name", ep.by_name)
        self.assertEqual(ep.constraints, [(False, ["ip", "name"])])
        self.assertNotIn("_thing", [o.name for o in m.objects])

    def test_enum_union_per_key(self):
        c = self.item(self.model(), "net_activity")
        st = {it[0]: it[2] for it in c.by_name["status_id"].enum.items}
        self.assertEqual(st, {0: "Unknown", 1: "Done", 3: "Later", 99: "Other"})

    def test_caption_override_and_narrowing(self):
        ep = self.item(self.model(), "endpoint")
        self.assertEqual(ep.by_name["file_name"].attr.type, "file_name_t")
        self.assertEqual(ep.by_name["file_name"].kind, "STRING")

    def test_bad_narrowing_is_an_error(self):
        def narrow(d):
            d["attributes"]["file_name"]["type"] = "integer_t"
        e = self.error({"objects/endpoint.json": narrow})
        self.assertEqual(e.file, "objects/endpoint.json")
        self.assertEqual(e.path, "/attributes/file_name/type")

    def test_siblings_and_flags(self):
        m = self.model()
        c = self.item(m, "net_activity")
        sev, cap = c.by_name["severity_id"], c.by_name["severity"]
        self.assertEqual(sev.sibling, cap.index)
        self.assertEqual(cap.sibling, sev.index)
        self.assertTrue(cap.flags & F_CAPTION)
        self.assertTrue(c.by_name["type_uid"].flags & F_DERIVED)
        self.assertTrue(c.by_name["class_name"].flags & F_DERIVED)
        self.assertTrue(c.by_name["status_id"].flags & F_RECOMMENDED)
        self.assertTrue(c.by_name["old"].flags & F_DEPRECATED)
        self.assertTrue(self.item(m, "metadata").by_name["version"].flags & F_DERIVED)

    def test_kinds_and_ranges(self):
        m = self.model()
        ep = self.item(m, "endpoint")
        self.assertEqual(ep.by_name["port"].kind, "PORT")
        self.assertEqual(ep.by_name["port"].range, (0, 65535))
        self.assertEqual(ep.by_name["data"].kind, "JSON")
        self.assertEqual(ep.by_name["score"].kind, "FLOAT")
        self.assertEqual(ep.by_name["parent"].kind, "OBJECT")
        c = self.item(m, "net_activity")
        self.assertEqual(c.by_name["unmapped"].kind, "OPEN_OBJECT")
        self.assertEqual(c.by_name["time"].kind, "LONG")
        self.assertEqual(c.by_name["method"].kind, "ENUM_STR")
        self.assertTrue(ep.recursive)
        self.assertFalse(self.item(m, "metadata").recursive)

    def test_fields_sorted_by_name(self):
        for mi in self.model().classes:
            names = [f.name for f in mi.fields]
            self.assertEqual(names, sorted(names))
            self.assertEqual([f.index for f in mi.fields], list(range(len(names))))


class TestEnums(Base):
    def test_activity_id_is_per_class(self):
        m = self.model()
        c = self.item(m, "net_activity")
        self.assertEqual(c.by_name["activity_id"].enum.cname, "net_activity_activity_id")
        self.assertEqual([it[4] for it in c.by_name["activity_id"].enum.items],
                         ["OCSF_NET_ACTIVITY_ACTIVITY_ID_UNKNOWN",
                          "OCSF_NET_ACTIVITY_ACTIVITY_ID_OPEN",
                          "OCSF_NET_ACTIVITY_ACTIVITY_ID_CLOSE",
                          "OCSF_NET_ACTIVITY_ACTIVITY_ID_OTHER"])

    def test_majority_set_shared_others_per_item(self):
        m = self.model()
        # status_id: base_event and endpoint share {0,1,99}; net_activity differs
        self.assertEqual(self.item(m, "base_event").by_name["status_id"].enum.cname, "status_id")
        self.assertEqual(self.item(m, "endpoint").by_name["status_id"].enum.cname, "status_id")
        self.assertEqual(self.item(m, "net_activity").by_name["status_id"].enum.cname,
                         "net_activity_status_id")

    def test_mangled_names_unique(self):
        def dup(d):
            d["attributes"]["severity_id"]["enum"]["7"] = {"caption": "Informational!"}
        m = self.model({"dictionary.json": dup})
        consts = [it[4] for it in self.item(m, "base_event").by_name["severity_id"].enum.items]
        self.assertIn("OCSF_SEVERITY_ID_INFORMATIONAL", consts)
        self.assertIn("OCSF_SEVERITY_ID_INFORMATIONAL_7", consts)
        self.assertEqual(len(consts), len(set(consts)))

    def test_string_enum_sorted_by_key(self):
        e = self.item(self.model(), "net_activity").by_name["method"].enum
        self.assertTrue(e.is_str)
        self.assertEqual([(it[1], it[4]) for it in e.items],
                         [("GET", "OCSF_METHOD_GET"), ("POST", "OCSF_METHOD_POST")])

    def test_name_collision_detected(self):
        # object attribute "set_x" (accessor ocsf_metadata_set_x) and scalar
        # attribute "x" (setter ocsf_metadata_set_x) would clash in C
        def clash(d):
            d["attributes"]["set_x"] = {"caption": "x", "type": "endpoint"}
            d["attributes"]["x"] = {"caption": "x", "type": "string_t"}

        def use(d):
            d["attributes"]["set_x"] = {"requirement": "optional"}
            d["attributes"]["x"] = {"requirement": "optional"}
        e = self.error({"dictionary.json": clash, "objects/metadata.json": use})
        self.assertIn("ocsf_metadata_set_x", str(e))


class TestErrors(Base):
    def test_bad_metaschema(self):
        e = self.error({"metaschema/event.schema.json": {
            "$id": "https://schema.ocsf.io/event.schema.json",
            "$schema": fixture.MS, "type": 12}})
        self.assertEqual(e.file, "metaschema/event.schema.json")
        self.assertIn("bad metaschema", e.msg)

    def test_file_fails_metaschema(self):
        def bad(d):
            d["uid"] = "one"
        e = self.error({"events/network/net_activity.json": bad})
        self.assertEqual(e.file, "events/network/net_activity.json")
        self.assertEqual(e.path, "/uid")

    def test_metaschema_ref_resolved_locally(self):
        # attributes.schema.json is reached through a relative $ref
        def strict(d):
            d["type"] = "object"
            d["patternProperties"] = {"^[a-z]": {"type": "object"}}
        def bad(d):
            d["attributes"]["port"] = 5
        e = self.error({"metaschema/attributes.schema.json": strict,
                        "objects/endpoint.json": bad})
        self.assertEqual((e.file, e.path), ("objects/endpoint.json", "/attributes/port"))

    def test_invalid_json(self):
        e = self.error({"objects/endpoint.json": "{not json"})
        self.assertEqual(e.file, "objects/endpoint.json")
        self.assertIn("invalid JSON", e.msg)

    def test_missing_parent(self):
        def orphan(d):
            d["extends"] = "nowhere"
        e = self.error({"events/network/net_activity.json": orphan})
        self.assertEqual((e.file, e.path), ("events/network/net_activity.json", "/extends"))
        self.assertIn("nowhere", e.msg)

    def test_unknown_type(self):
        def bad(d):
            d["attributes"]["port"]["type"] = "nope_t"
        e = self.error({"objects/endpoint.json": bad})
        self.assertEqual((e.file, e.path), ("objects/endpoint.json", "/attributes/port/type"))

    def test_attribute_not_in_dictionary(self):
        def bad(d):
            d["attributes"]["ghost"] = {"requirement": "optional"}
        e = self.error({"objects/endpoint.json": bad})
        self.assertEqual((e.file, e.path), ("objects/endpoint.json", "/attributes/ghost"))

    def test_missing_include(self):
        def bad(d):
            d["attributes"]["$include"] = "profiles/missing.json"
        e = self.error({"objects/endpoint.json": bad})
        self.assertEqual(e.path, "/attributes/$include")

    def test_selection_class_matches_nothing(self):
        e = self.error(selection=dict(fixture.SELECTION, classes={"no_such_class": 1}))
        self.assertEqual(e.path, "/classes/no_such_class")
        self.assertTrue(e.file.endswith("ocsf.yaml"))

    def test_selection_profile_matches_nothing(self):
        e = self.error(selection=dict(fixture.SELECTION, profiles=["nope"]))
        self.assertEqual(e.path, "/profiles")

    def test_selection_uid_mismatch(self):
        e = self.error(selection=dict(fixture.SELECTION, classes={"net_activity": 4002}))
        self.assertIn("4001", e.msg)

    def test_selection_version_mismatch(self):
        e = self.error(selection=dict(fixture.SELECTION, version="9.1.0"))
        self.assertEqual(e.path, "/version")

    def test_datetime_rejected(self):
        e = self.error(selection=dict(fixture.SELECTION, profiles=["datetime"]))
        self.assertIn("datetime", e.msg)

    def test_no_schema_lists_every_place(self):
        with self.assertRaises(GenError) as cm:
            find_schema_dir(self.tmp, "9.9.9", env={"OCSF_SCHEMA_DIR": "/nonexistent/x"})
        msg = str(cm.exception)
        self.assertIn("/nonexistent/x", msg)
        self.assertIn(os.path.join(self.tmp, "schema", "ocsf-9.9.9"), msg)
        self.assertIn(os.path.join("shared", "ocsf-schema", "9.9.9"), msg)

    def test_no_schema_exit_code_is_skip(self):
        sel = os.path.join(self.tmp, "sel.yaml")
        with open(sel, "w") as f:
            f.write("version: \"0.0.1\"\nclasses: {base_event: 0}\n")
        old = os.environ.pop("OCSF_SCHEMA_DIR", None)
        try:
            rc = codegen_main(["--selection", sel, "--out", self.tmp, "--quiet"])
        finally:
            if old is not None:
                os.environ["OCSF_SCHEMA_DIR"] = old
        self.assertEqual(rc, 3)


class TestEmit(Base):
    def test_c_compiles_and_is_deterministic(self):
        if CC is None:
            self.skipTest("no C compiler")
        m = self.model()
        h, c = emit_c.emit_header(m), emit_c.emit_source(m)
        m2 = self.model()
        self.assertEqual(h, emit_c.emit_header(m2))
        self.assertEqual(c, emit_c.emit_source(m2))
        self.assertTrue(h.startswith("/* Generated by codegen from OCSF 9.0.0; DO NOT EDIT. */"))
        d = os.path.join(self.tmp, "out")
        os.makedirs(d)
        for n, t in (("ocsf_gen.h", h), ("ocsf_gen.c", c)):
            with open(os.path.join(d, n), "w") as f:
                f.write(t)
        use = os.path.join(d, "use.c")
        with open(use, "w") as f:
            f.write('#include "ocsf_gen.h"\nvoid use(struct ocsf_net_activity *ev);\n'
                    "void use(struct ocsf_net_activity *ev)\n{\n"
                    "\tocsf_net_activity_init(ev, OCSF_NET_ACTIVITY_ACTIVITY_ID_OPEN, \"e\");\n"
                    "\tocsf_endpoint_set_port(ocsf_net_activity_endpoint(ev), 22);\n"
                    "\tocsf_endpoint_set_status_id(ocsf_net_activity_add_peers(ev),"
                    " OCSF_STATUS_ID_SUCCESS);\n"
                    "\tocsf_net_activity_set_status_id(ev, OCSF_NET_ACTIVITY_STATUS_ID_LATER);\n"
                    "\tocsf_net_activity_add_unmapped_int(ev, \"k\", 1);\n"
                    "\tocsf_net_activity_set_method(ev, OCSF_METHOD_GET);\n}\n")
        inc = ["-I", os.path.join(ROOT, "src", "ocsf"), "-I", d]
        for src in ("ocsf_gen.c", "use.c"):
            p = subprocess.run([CC, "-std=c17"] + WARN + inc + ["-c", os.path.join(d, src),
                                "-o", os.path.join(d, src + ".o")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            self.assertEqual(p.returncode, 0, p.stdout.decode())
        # wrong enum for the class must not compile
        with open(use, "w") as f:
            f.write('#include "ocsf_gen.h"\nvoid use(struct ocsf_net_activity *ev);\n'
                    "void use(struct ocsf_net_activity *ev)\n{\n"
                    "\tocsf_net_activity_set_status_id(ev, OCSF_STATUS_ID_SUCCESS);\n}\n")
        p = subprocess.run([CC, "-std=c17"] + WARN + inc + ["-c", use, "-o", use + ".o"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("enum-conversion", p.stdout.decode())

    def test_deprecated_setter_marked_and_derived_setters_absent(self):
        h = emit_c.emit_header(self.model())
        self.assertIn("OCSF_GEN_DEPRECATED(", h.split("ocsf_base_event_set_old")[0][-400:])
        self.assertNotIn("ocsf_net_activity_set_type_uid", h)
        self.assertNotIn("ocsf_metadata_set_version", h)
        self.assertIn("ocsf_net_activity_set_activity_name", h)

    def test_json_schema_rules(self):
        import jsonschema
        m = self.model()
        s = emit_schema.class_schema(m, self.item(m, "net_activity"))
        jsonschema.Draft202012Validator.check_schema(s)
        v = jsonschema.Draft202012Validator(s)
        ok = {"activity_id": 1, "class_uid": 4001, "category_uid": 4, "type_uid": 400101,
              "severity_id": 1, "time": 1, "metadata": {"version": "9.0.0"},
              "endpoint": {"name": "a", "port": 1, "container": "c"}, "unmapped": {"x": [1]}}
        self.assertEqual(list(v.iter_errors(ok)), [])

        def bad(mut):
            e = json.loads(json.dumps(ok))
            mut(e)
            return list(v.iter_errors(e))

        self.assertTrue(bad(lambda e: e["endpoint"].update(port=70000)))
        self.assertTrue(bad(lambda e: e.update(extra=1)))
        self.assertTrue(bad(lambda e: e.update(old="deprecated")))
        self.assertTrue(bad(lambda e: e.update(type_uid=400102)))
        self.assertTrue(bad(lambda e: e.update(class_uid=4002)))
        self.assertTrue(bad(lambda e: e.update(status_id=2)))
        self.assertTrue(bad(lambda e: e.update(method="PUT")))
        self.assertTrue(bad(lambda e: e.update(endpoint={"port": 1})))   # at_least_one
        self.assertTrue(bad(lambda e: e.pop("endpoint")))                # class constraint
        self.assertTrue(bad(lambda e: e["metadata"].update(version="1.0.0")))
        # profile gating at the class level: flag (host) needs metadata.profiles
        self.assertTrue(bad(lambda e: e.update(flag=True)))
        self.assertEqual(bad(lambda e: (e.update(flag=True),
                                        e["metadata"].update(profiles=["host"]))), [])
        # declaring host makes its required attribute required
        self.assertTrue(bad(lambda e: e["metadata"].update(profiles=["host"])))
        # object-level profile attributes are annotated for the validator tool
        self.assertEqual(s["$defs"]["endpoint"]["properties"]["container"]["x-ocsf-profile"],
                         "container")

    def test_manifest(self):
        man = emit_schema.manifest(self.model())
        a = man["classes"]["net_activity"]["attributes"]
        self.assertEqual(a["flag"]["profile"], "host")
        self.assertEqual(a["severity_id"]["sibling"], "severity")
        self.assertEqual(man["objects"]["endpoint"]["attributes"]["container"]["profile"],
                         "container")

    def test_compare_reports_drift(self):
        d1 = os.path.join(self.tmp, "a")
        os.makedirs(os.path.join(d1, "c"))
        with open(os.path.join(d1, "c", "ocsf_gen.h"), "w") as f:
            f.write("old\n")
        with open(os.path.join(d1, "c", "stale.c"), "w") as f:
            f.write("x\n")
        diffs = compare(d1, {"c/ocsf_gen.h": "new\n", "c/ocsf_gen.c": "y\n"})
        self.assertEqual(diffs, ["missing: c/ocsf_gen.c", "differs: c/ocsf_gen.h",
                                 "stale (not generated any more): c/stale.c"])


SITE_ROW = """  - code: NET_OPEN
    class: net_activity
    activity: open
    severity: informational
    subsystem: net
    shorthand: "NET:OPEN [INFO] a"
    meaning: "opened"
    fired_by_tests: true
    match: 'NET:OPEN '
"""


class TestSites(Base):
    """schema/sites.yaml rules, on the fixture model (net_activity, base_event)."""

    def registry(self, rows=SITE_ROW, subsystems="  net: \"Network\"\n"):
        path = os.path.join(self.tmp, "sites.yaml")
        with open(path, "w") as f:
            f.write("subsystems:\n" + subsystems + "sites:\n" + rows)
        return load_registry(path, self.model(), "sites.yaml")

    def bad(self, rows, subsystems="  net: \"Network\"\n"):
        with self.assertRaises(GenError) as cm:
            self.registry(rows, subsystems)
        return str(cm.exception)

    def test_good_row_generates_typed_init_table_json_docs(self):
        reg = self.registry(SITE_ROW + SITE_ROW.replace("NET_OPEN", "EV_ANY").replace(
            "class: net_activity", "class: base_event").replace("activity: open",
                                                                  "activity: any").replace(
            "match: 'NET:OPEN '", "match: 'EVENT '").replace("NET:OPEN [INFO] a",
                                                             "EVENT [INFO] a"))
        h = emit_sites.emit_header(reg)
        self.assertIn("static inline void osh_site_init_net_open(struct ocsf_net_activity *ev)", h)
        self.assertIn('ocsf_net_activity_init(ev, OCSF_NET_ACTIVITY_ACTIVITY_ID_OPEN, "NET_OPEN");',
                      h)
        self.assertIn("osh_site_init_ev_any(struct ocsf_base_event *ev, "
                      "enum ocsf_base_event_activity_id act)", h)
        c = emit_sites.emit_source(reg)
        self.assertIn(".code = \"NET_OPEN\"", c)
        self.assertIn(".activity_id = -1", c)
        j = json.loads(emit_sites.emit_json(reg))
        self.assertEqual([r["code"] for r in j["sites"]], ["NET_OPEN", "EV_ANY"])
        self.assertEqual(j["sites"][0]["class_uid"], 4001)
        self.assertIn("| `NET_OPEN` | Net Activity 4001 | Open | Informational |",
                      emit_sites.emit_docs(reg))

    def test_errors_name_file_line_and_key(self):
        cases = [
            (SITE_ROW.replace("net_activity", "nope_activity"), ":5: sites[0] (NET_OPEN).class",
             "unknown class 'nope_activity'"),
            (SITE_ROW.replace("activity: open", "activity: listen"), ":6:",
             "not an activity of net_activity (known: unknown, open, close, other, or any)"),
            (SITE_ROW.replace("informational", "loud"), ":7: sites[0] (NET_OPEN).severity",
             "unknown severity 'loud'"),
            (SITE_ROW.replace("code: NET_OPEN", "code: net-open"), ":4: sites[0]",
             "not an event code"),
            (SITE_ROW + SITE_ROW, ":13: sites[1] (NET_OPEN).code",
             "duplicate code NET_OPEN (first at line 4)"),
            (SITE_ROW.replace("subsystem: net", "subsystem: ssh"), ".subsystem",
             "'ssh' is not listed under `subsystems`"),
            (SITE_ROW.replace("fired_by_tests: true", "fired_by_tests: false"), ".why_not",
             "needs why_not"),
            (SITE_ROW.replace("    meaning: \"opened\"\n", ""), ".meaning",
             "missing required key"),
            (SITE_ROW.replace("match: 'NET:OPEN '", "match: 'NET:CLOSE'"), ".match",
             "does not match the row's own shorthand example"),
            (SITE_ROW + "    colour: red\n", ".colour", "unknown key"),
        ]
        for rows, where, what in cases:
            msg = self.bad(rows)
            self.assertIn("sites.yaml", msg)
            self.assertIn(where, msg)
            self.assertIn(what, msg)

    def test_overlapping_patterns_are_refused(self):
        other = SITE_ROW.replace("NET_OPEN", "NET_OPEN_TOO").replace("match: 'NET:OPEN '",
                                                                     "match: 'NET:'")
        msg = self.bad(SITE_ROW + other)
        self.assertIn("NET_OPEN_TOO", msg)
        self.assertIn("also matches the shorthand example of NET_OPEN", msg)

    def test_bad_registry_exits_non_zero_and_writes_nothing(self):
        sroot, selp = fixture.write(fixture.tree(), self.tmp)
        reg = os.path.join(self.tmp, "sites.yaml")
        with open(reg, "w") as f:
            f.write("subsystems:\n  net: \"Network\"\nsites:\n" +
                    SITE_ROW.replace("informational", "loud"))
        out = os.path.join(self.tmp, "out")
        old = os.environ.get("OCSF_SCHEMA_DIR")
        os.environ["OCSF_SCHEMA_DIR"] = sroot
        try:
            rc = codegen_main(["--selection", selp, "--sites", reg, "--out", out,
                               "--docs-out", os.path.join(self.tmp, "docs"), "--quiet"])
        finally:
            if old is None:
                os.environ.pop("OCSF_SCHEMA_DIR")
            else:
                os.environ["OCSF_SCHEMA_DIR"] = old
        self.assertEqual(rc, 1)
        self.assertFalse(os.path.exists(out))


class TestCommittedOutput(unittest.TestCase):
    """Checks on generated/ as committed (no raw schema needed)."""

    def schema(self, cls):
        with open(os.path.join(ROOT, "generated", "schema", cls + ".schema.json")) as f:
            return json.load(f)

    def test_network_activity_schema(self):
        import jsonschema
        s = self.schema("network_activity")
        jsonschema.Draft202012Validator.check_schema(s)
        v = jsonschema.Draft202012Validator(s)
        ev = {"activity_id": 1, "category_uid": 4, "class_uid": 4001, "type_uid": 400101,
              "severity_id": 1, "time": 1700000000000, "class_name": "Network Activity",
              "category_name": "Network Activity", "activity_name": "Open",
              "severity": "Informational", "type_name": "Network Activity: Open",
              "metadata": {"version": s["$defs"]["metadata"]["properties"]["version"]["const"],
                           "product": {"name": "OpenShell"},
                           "profiles": ["security_control", "container", "host"]},
              "src_endpoint": {"ip": "10.0.0.1", "port": 1234},
              "dst_endpoint": {"hostname": "example.com", "port": 443},
              "action_id": 2, "action": "Denied", "disposition_id": 2,
              "actor": {"process": {"pid": 12, "name": "curl",
                                    "parent_process": {"pid": 1, "parent_process": {"pid": 0}},
                                    "container": {"uid": "abc"}}},
              "unmapped": {"a": 1, "b": {"c": []}}}
        self.assertEqual([e.message for e in v.iter_errors(ev)], [])
        for mut in (lambda e: e["src_endpoint"].update(port=70000),
                    lambda e: e.update(observation_point_id=5),
                    lambda e: e.update(type_uid=400102),
                    lambda e: e["metadata"].update(profiles=["host"]),   # action_id ungated
                    lambda e: e.update(proxy={"ip": "1.1.1.1"}),         # deprecated
                    lambda e: e.update(src_endpoint={})):
            e = json.loads(json.dumps(ev))
            mut(e)
            self.assertTrue(list(v.iter_errors(e)))

    def test_c_compiles_with_project_warnings(self):
        if CC is None:
            self.skipTest("no C compiler")
        d = tempfile.mkdtemp(prefix="codegen-cc-")
        self.addCleanup(shutil.rmtree, d, True)
        p = subprocess.run([CC, "-std=c17"] + WARN +
                           ["-I", os.path.join(ROOT, "src", "ocsf"),
                            "-I", os.path.join(ROOT, "generated", "c"),
                            "-c", os.path.join(ROOT, "generated", "c", "ocsf_gen.c"),
                            "-o", os.path.join(d, "g.o")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout.decode()[:4000])


if __name__ == "__main__":
    unittest.main()


class TestFetch(Base):
    def test_manifest_is_canonical_and_sensitive(self):
        from codegen import fetch
        sroot, _ = fixture.write(fixture.tree(), self.tmp)
        h1, n1 = fetch.manifest_sha256(sroot)
        self.assertEqual(n1, len([k for k in fixture.BASE if fetch.wanted(k)]))
        # files outside the pinned set do not count
        os.makedirs(os.path.join(sroot, "templates"))
        with open(os.path.join(sroot, "templates", "x.json"), "w") as f:
            f.write("{}")
        self.assertEqual(fetch.manifest_sha256(sroot), (h1, n1))
        with open(os.path.join(sroot, "objects", "endpoint.json"), "a") as f:
            f.write(" ")
        self.assertNotEqual(fetch.manifest_sha256(sroot)[0], h1)

    def test_archive_extraction_filters_and_rejects_traversal(self):
        import io
        import tarfile
        from codegen import fetch

        def tar(names):
            path = os.path.join(self.tmp, "a%d.tgz" % len(names))
            with tarfile.open(path, "w:gz") as tf:
                for n in names:
                    data = b"{}"
                    ti = tarfile.TarInfo(n)
                    ti.size = len(data)
                    tf.addfile(ti, io.BytesIO(data))
            return path

        dest = os.path.join(self.tmp, "x")
        os.makedirs(dest)
        n = fetch.extract(tar(["top/dictionary.json", "top/objects/a.json",
                               "top/templates/t.json", "top/README.md"]), dest)
        self.assertEqual(n, 2)
        self.assertTrue(os.path.exists(os.path.join(dest, "objects", "a.json")))
        self.assertFalse(os.path.exists(os.path.join(dest, "templates")))
        with self.assertRaises(SystemExit):
            fetch.extract(tar(["top/../../evil.json", "top/objects/b.json"]), dest)


class TestNewerShapes(Base):
    """Shapes newer OCSF releases use; the generator must take them unchanged."""

    def test_attribute_profiles_list(self):
        def multi(d):
            d["attributes"]["score"]["profiles"] = ["nope", "container"]
        m = self.model({"objects/endpoint.json": multi})
        self.assertEqual(self.item(m, "endpoint").by_name["score"].profile, "container")
        m = self.model({"objects/endpoint.json": multi},
                       selection=dict(fixture.SELECTION, profiles=["host"]))
        self.assertNotIn("score", self.item(m, "endpoint").by_name)

    def test_attribute_level_enum_include(self):
        def inc(d):
            d["attributes"]["status_id"] = {"$include": "enums/status.json",
                                            "requirement": "optional"}
        m = self.model({"objects/endpoint.json": inc,
                        "enums/status.json": {"enum": {"7": {"caption": "Seven"}}}})
        st = {it[0]: it[2] for it in self.item(m, "endpoint").by_name["status_id"].enum.items}
        self.assertEqual(st, {0: "Unknown", 1: "Success", 7: "Seven", 99: "Other"})

    def test_file_level_include(self):
        def inc(d):
            d["$include"] = "includes/extra.json"
        m = self.model({"objects/metadata.json": inc,
                        "includes/extra.json": {"attributes": {"name": {"requirement":
                                                                        "required"}}}})
        f = self.item(m, "metadata").by_name["name"]
        self.assertTrue(f.flags & F_REQUIRED)

    def test_unknown_keys_tolerated(self):
        def extra(d):
            d["future_key"] = {"anything": [1, 2]}
            d["attributes"]["port"]["future_attr_key"] = True
        self.model({"objects/endpoint.json": extra})


class TestDownVersionTargets(Base):
    """codegen/emit_versions.py: fill rules are checked against the models,
    a target type's regex must have a converter checker, and the C tables and
    matrix come out of one model (the fixture stands in for both versions)."""

    def fills(self, rows):
        from codegen import emit_versions
        m = self.model()
        sel = {"fills": rows, "_path": "sel.yaml"}
        return emit_versions.load_fills(sel, m, [m])

    def test_fill_rules_checked(self):
        ok = self.fills([{"at": "endpoint.name", "from": ["@ip", "metadata.event_code"]}])
        self.assertEqual(ok, [("endpoint", "name", ["@ip", "metadata.event_code"])])
        for rows, want in (
                ([{"at": "endpoint.nope", "from": ["metadata"]}], "attribute of no target"),
                ([{"at": "endpoint", "from": ["metadata"]}], "<class or object>.<attribute>"),
                ([{"at": "endpoint.name", "from": ["metadata.nope"]}], "not an attribute path"),
                ([{"at": "endpoint.name", "from": ["@nope"]}], "not an attribute path of endpoint"),
                ([{"at": "endpoint.name", "from": []}], "non-empty list"),
                ([{"at": "endpoint.name"}], "a fill is {at:")):
            with self.assertRaises(GenError) as cm:
                self.fills(rows)
            self.assertIn(want, str(cm.exception.format()))
            self.assertIn("/fills/0", str(cm.exception.format()))

    def test_unknown_regex_stops_the_run(self):
        from codegen import emit_versions
        m = self.model()
        f = self.item(m, "endpoint").by_name["file_name"]
        self.assertEqual(emit_versions._format(m, f), "NONE")
        m.r.types.setdefault("file_name_t", {})["regex"] = "^[a-z]+$"
        with self.assertRaises(GenError) as cm:
            emit_versions._format(m, f)
        self.assertIn("no checker in src/ocsf/ocsf_convert.c", cm.exception.format())
        m.r.types["file_name_t"]["regex"] = (
            r"^([0-9A-Fa-f]{2}[:-]){5}([0-9A-Fa-f]{2})$")
        self.assertEqual(emit_versions._format(m, f), "MAC")

    def test_tables_and_matrix(self):
        from codegen import emit_versions
        m = self.model()
        src = emit_versions.emit_source([m], [("endpoint", "name", ["@ip"])])
        self.assertIn("const struct ocsf_vschema ocsf_vschema_9_0_0 = {", src)
        self.assertIn("v9_0_0_fill0[] = {\"@ip\", NULL};", src)
        self.assertIn("extern const struct ocsf_vschema ocsf_vschema_9_0_0;",
                      emit_versions.emit_header([m]))
        doc = emit_versions.emit_matrix(m, [m], [])
        self.assertIn("# Version matrix", doc)
        self.assertIn("- attributes dropped (0): none", doc)
