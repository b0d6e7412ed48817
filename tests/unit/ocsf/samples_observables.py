#!/usr/bin/env python3
"""Every observable of every maximal sample points at a real attribute.

DESIGN: an observable's `name` is the path of an attribute of the same event,
its `value` is that attribute's value and its `type_id` is the observable
number of the attribute's OCSF type, read here from the raw schema's
dictionary (independently of the generator), so a placeholder name or a
type that does not fit fails. Usage: samples_observables.py OCSF_SAMPLE REPO_ROOT (the raw
schema is found where codegen finds it: $OCSF_SCHEMA_DIR, schema/ocsf-1.7.0/,
../shared/ocsf-schema/1.7.0/)
"""
import json
import os
import subprocess
import sys


def resolve(ev, path):
    cur = ev
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def main():
    sample, root = sys.argv[1], sys.argv[2]
    sys.path.insert(0, root)
    from codegen.loader import find_schema_dir  # locating only, no generator logic
    schema_dir = find_schema_dir(root, "1.7.0")
    with open(os.path.join(schema_dir, "dictionary.json")) as f:
        dictionary = json.load(f)
    types = dictionary["types"]["attributes"]
    attrs = dictionary["attributes"]
    out = subprocess.run([sample, "--class", "all", "--maximal"], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    assert len(out) == 8, "8 classes expected, got %d lines" % len(out)
    checked = 0
    for line in out:
        ev = json.loads(line)
        obs = ev.get("observables")
        assert obs, "class %s: maximal sample has no observables" % ev["class_uid"]
        for o in obs:
            name = o["name"]
            assert name != "name", "placeholder observable name"
            got = resolve(ev, name)
            assert got is not None, "%s: %r is not a path of the event" % (ev["class_uid"], name)
            assert got == o["value"], "%s: value %r != %r at %s" % (
                ev["class_uid"], o["value"], got, name)
            leaf = name.split(".")[-1]
            typ = attrs[leaf]["type"]
            want = types.get(typ, {}).get("observable", attrs[leaf].get("observable"))
            assert want is not None, "%s has no observable type" % name
            assert o["type_id"] == want, "%s: type_id %s, the type %s says %s" % (
                name, o["type_id"], typ, want)
            checked += 1
    print("observables checked:", checked)


if __name__ == "__main__":
    main()
