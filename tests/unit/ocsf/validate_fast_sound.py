#!/usr/bin/python3
"""validate_fast_sound.py - the fast schema check of tools/ocsf-validate
never accepts an event that jsonschema rejects.

DESIGN: differential test. Seeds are real serialized events (the maximal
and minimal samples of every class, passed as JSONL files); each round
applies 1-3 random mutations (wrong types, bools for numbers, floats,
out-of-range numbers, removed members, unknown members, appended array
items) and compares FastSchema's verdict with jsonschema's is_valid() on
the same class schema. FastSchema may say "not sure" for a valid event
(slow path, same result), but "valid" for an invalid one is a failure.
Deterministic (fixed seed). Usage: validate_fast_sound.py VALIDATOR ROUNDS
JSONL...
"""
import copy
import importlib.machinery
import importlib.util
import json
import random
import sys


def load_validator(path):
    loader = importlib.machinery.SourceFileLoader("ocsf_validate", path)
    spec = importlib.util.spec_from_loader("ocsf_validate", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


VALUES = [True, False, 0, 1, -1, 1.0, 1.5, 99, 70000, "", "x", None, [], {}, [1],
          {"a": 1}, 2 ** 40, "1.7.0", "container", 10 ** 20, 1e308, -2 ** 31 - 1]
KEYS = ["bogus", "name", "uid", "type_id", "port", "ip", "profiles", "pid", "version"]


def paths(x, p=()):
    yield p
    if isinstance(x, dict):
        for k, v in x.items():
            yield from paths(v, p + (k,))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from paths(v, p + (i,))


def mutate(rnd, ev):
    ev = copy.deepcopy(ev)
    for _ in range(rnd.randint(1, 3)):
        p = rnd.choice(list(paths(ev)))
        if not p:
            continue
        parent = ev
        for k in p[:-1]:
            parent = parent[k]
        val = copy.deepcopy(rnd.choice(VALUES))
        op = rnd.random()
        if op < 0.4:
            parent[p[-1]] = val
        elif op < 0.6:
            if isinstance(parent, dict):
                del parent[p[-1]]
            else:
                parent.pop(p[-1])
        elif op < 0.8 and isinstance(parent, dict):
            parent[rnd.choice(KEYS)] = val
        else:
            tgt = parent[p[-1]]
            if isinstance(tgt, list):
                tgt.append(val)
            elif isinstance(tgt, dict) and tgt:
                tgt[rnd.choice(list(tgt))] = val
    return ev


def main(argv):
    ov = load_validator(argv[1])
    rounds = int(argv[2])
    seeds = []
    for fn in argv[3:]:
        with open(fn, encoding="utf-8") as f:
            seeds += [json.loads(line) for line in f if line.strip()]
    model = ov.Model(ov.os.path.join(ov.os.path.dirname(argv[1]), "..", "generated"))
    for uid in model.schemas:
        if model.fast(uid) is None:
            print("class %d: no fast check (slow path only)" % uid)
    if not seeds:
        print("no seed events")
        return 1
    rnd = random.Random(20261129)
    unsound = checked = fast_valid = slow_valid = 0
    for _ in range(rounds):
        ev = mutate(rnd, rnd.choice(seeds))
        uid = ev.get("class_uid") if isinstance(ev, dict) else None
        if type(uid) is not int or uid not in model.schemas or model.fast(uid) is None:
            continue
        checked += 1
        fast = model.fast(uid)(ev)
        slow = model.validator(uid).is_valid(ev)
        fast_valid += fast
        slow_valid += slow
        if fast and not slow:
            unsound += 1
            print("UNSOUND: fast check accepted %s" % json.dumps(ev)[:400])
    # the seeds themselves are valid and must take the fast path
    seeds_fast = sum(1 for ev in seeds if model.fast(ev["class_uid"])(ev))
    print("%d mutants checked, %d valid by jsonschema, %d accepted by the fast check, "
          "%d unsound; %d/%d seeds on the fast path"
          % (checked, slow_valid, fast_valid, unsound, seeds_fast, len(seeds)))
    ok = unsound == 0 and checked > rounds // 2 and seeds_fast == len(seeds)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
