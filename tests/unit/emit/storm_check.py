#!/usr/bin/python3
"""storm_check.py - run ocsf-storm and reconcile its counters with the files.

Usage: storm_check.py STORM_BIN SOURCE_DIR [storm args...]

Checks (any failure exits 1 naming what was wrong):
  * both files end in a newline and every line is complete: shorthand lines
    match "<ts> OCSF <TOKEN> [<SEV>]..." and carry no control characters;
    every JSONL line is one JSON object;
  * every JSONL line validates against the generated JSON Schema
    (tools/ocsf-validate when present, else generated/schema/ via jsonschema);
  * openshell.log holds exactly emitted + reports lines;
  * openshell-ocsf.log holds exactly emitted_while_enabled + reports_jsonl.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z OCSF "
                  r"(?:[A-Z]+:[A-Z0-9_\\.-]+|EVENT) \[(?:INFO|LOW|MED|HIGH|CRIT|FATAL)\]( |$)")
CTRL = re.compile(r"[\x00-\x1f\x7f]")


def fail(msg):
    print("storm_check: FAIL: " + msg)
    sys.exit(1)


def read_lines(path):
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        fail("%s ends mid-line" % path)
    return data.split(b"\n")[:-1] if data else []


def validate_jsonl(src, path, lines):
    tool = os.path.join(src, "tools", "ocsf-validate")
    if os.path.exists(tool):
        r = subprocess.run(["/usr/bin/python3", tool, path], capture_output=True, text=True)
        if r.returncode != 0:
            fail("ocsf-validate rejected %s:\n%s%s" % (path, r.stdout[-4000:], r.stderr[-4000:]))
        return "tools/ocsf-validate"
    import jsonschema
    by_uid = {}
    sdir = os.path.join(src, "generated", "schema")
    for name in os.listdir(sdir):
        with open(os.path.join(sdir, name)) as f:
            schema = json.load(f)
        uid = schema.get("properties", {}).get("class_uid", {}).get("const")
        if uid is None:
            enum = schema.get("properties", {}).get("class_uid", {}).get("enum", [None])
            uid = enum[0]
        by_uid[uid] = jsonschema.Draft202012Validator(schema)
    for n, raw in enumerate(lines, 1):
        ev = json.loads(raw)
        v = by_uid.get(ev.get("class_uid"))
        if v is None:
            fail("%s:%d: no schema for class_uid %r" % (path, n, ev.get("class_uid")))
        errs = sorted(v.iter_errors(ev), key=lambda e: list(e.path))
        if errs:
            fail("%s:%d: %s at %s" % (path, n, errs[0].message, list(errs[0].path)))
    return "generated/schema (jsonschema)"


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    storm, src = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="osh-storm-") as d:
        r = subprocess.run([storm, "--dir", d] + sys.argv[3:], capture_output=True, text=True,
                           timeout=600)
        sys.stdout.write(r.stdout)
        if r.returncode != 0:
            fail("ocsf-storm exited %d: %s" % (r.returncode, r.stderr))
        stats = {}
        for line in r.stdout.splitlines():
            k, v = line.split()
            stats[k] = int(v)
        main_path = os.path.join(d, "openshell.log")
        json_path = os.path.join(d, "openshell-ocsf.log")
        short = read_lines(main_path)
        for n, raw in enumerate(short, 1):
            text = raw.decode("utf-8", errors="strict") if True else ""
            if not LINE.match(text) or CTRL.search(text):
                fail("%s:%d malformed: %r" % (main_path, n, text[:200]))
        jl = read_lines(json_path) if os.path.exists(json_path) else []
        for n, raw in enumerate(jl, 1):
            try:
                obj = json.loads(raw)
            except ValueError as e:
                fail("%s:%d not JSON: %s" % (json_path, n, e))
            if not isinstance(obj, dict):
                fail("%s:%d not an object" % (json_path, n))
        want_short = stats["emitted"] + stats["reports"]
        want_json = stats["emitted_while_enabled"] + stats["reports_jsonl"]
        if len(short) != want_short:
            fail("openshell.log has %d lines, expected emitted+reports = %d"
                 % (len(short), want_short))
        if len(jl) != want_json:
            fail("openshell-ocsf.log has %d lines, expected emitted_while_enabled+reports_jsonl"
                 " = %d" % (len(jl), want_json))
        if stats["emitted_while_enabled"] == 0 or stats["emitted_while_enabled"] >= stats["emitted"]:
            fail("toggling did not split the traffic (enabled %d of %d)"
                 % (stats["emitted_while_enabled"], stats["emitted"]))
        how = validate_jsonl(src, json_path, jl) if jl else "nothing to validate"
        print("storm_check: OK: %d shorthand lines, %d JSONL lines (validated by %s)"
              % (len(short), len(jl), how))
    return 0


if __name__ == "__main__":
    sys.exit(main())
