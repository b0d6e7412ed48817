#!/usr/bin/python3
"""convert_matrix.py - every event converted to every target version validates
against that version's generated JSON Schema, or is refused with a reason.

Usage: convert_matrix.py ROOT BIN_DIR [LOG_DIR]

DESIGN
Inputs, all real output of the project's own producers:
  * the emission runtime's sample events (src/emit/emit_samples.c, run by
    ocsf-storm: every sample class, plain and hostile values), reduced to
    one event per distinct shape (event code, hostile or not) so the counts
    do not depend on thread timing;
  * ocsf-sample's minimal and maximal events of every class (every
    attribute the 1.7.0 schema has), with the metadata.product every
    emitted event gets from the runtime's enrichment;
  * when LOG_DIR holds them, every JSONL line the e2e and integration tests
    of this ctest run archived (fixture site_logs; this test runs after
    them, like the site census).
Each set goes through ocsf-convert --to V for V in 1.1.0, 1.3.0, 1.5.0,
1.7.0 and the output through tools/ocsf-validate --version V: 0 invalid
lines, converted + refused == events, every refusal carries a reason, no
line is malformed. For the two deterministic sets the refused counts must
equal the table in docs/siem.md ("Refusals on the samples"), so a change of
the converter, the fill rules or a pin that changes them fails here until
the docs say so.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

VERSIONS = ("1.1.0", "1.3.0", "1.5.0", "1.7.0")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def storm_samples(bin_dir, tmp):
    d = os.path.join(tmp, "storm")
    os.makedirs(d)
    r = subprocess.run([os.path.join(bin_dir, "ocsf-storm"), "--dir", d, "--threads", "1",
                        "--toggles", "2", "--min-events", "400", "--hostile-every", "3"],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        fail("ocsf-storm: %s" % r.stderr[-2000:])
    shapes = {}
    with open(os.path.join(d, "openshell-ocsf.log"), encoding="utf-8") as f:
        for line in f:
            ev = json.loads(line)
            code = ev.get("metadata", {}).get("event_code")
            if not code or not code.startswith("SAMPLE_"):
                continue
            hostile = "line one" in line or "evil.example" in line
            shapes.setdefault((code, hostile), line.rstrip("\n"))
    return [shapes[k] for k in sorted(shapes)]


def descriptor_samples(bin_dir):
    r = subprocess.run([os.path.join(bin_dir, "ocsf-sample"), "--class", "all"],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        fail("ocsf-sample: %s" % r.stderr[-2000:])
    # The runtime's enrichment gives every emitted event metadata.product
    # {name, vendor_name, version}; the descriptor samples carry a minimal
    # product only. Give them the runtime's, as an emitted event would have.
    out = []
    for l in r.stdout.splitlines():
        if l.strip():
            ev = json.loads(l)
            ev["metadata"]["product"] = {"name": "OpenShell", "vendor_name": "OpenShell",
                                         "version": "0.1.0"}
            out.append(json.dumps(ev, separators=(",", ":"), ensure_ascii=False))
    return out


def run_logs(log_dir):
    lines = []
    for d, _, names in os.walk(log_dir):
        for n in sorted(names):
            if "ocsf" in n and (n.endswith(".log") or ".log." in n or n.endswith(".jsonl")):
                with open(os.path.join(d, n), encoding="utf-8", errors="surrogateescape") as f:
                    for line in f:
                        if not line.startswith("{"):
                            continue
                        # lines a sandbox already wrote in an older version
                        # (ocsf_schema_version) were validated by their test's
                        # fixture; the converter reads 1.7.0
                        try:
                            md = json.loads(line).get("metadata") or {}
                        except ValueError:
                            fail("%s: not JSON: %r" % (n, line[:200]))
                        if md.get("version") == "1.7.0":
                            lines.append(line.rstrip("\n"))
    return lines


def convert_and_validate(root, bin_dir, tmp, name, lines):
    """{version: refused count}; fails on any invalid or malformed line."""
    src = os.path.join(tmp, name + ".jsonl")
    with open(src, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("\n".join(lines) + "\n")
    refused = {}
    for v in VERSIONS:
        out = os.path.join(tmp, "%s-%s.jsonl" % (name, v))
        with open(out, "w") as fo:
            r = subprocess.run([os.path.join(bin_dir, "ocsf-convert"), "--to", v, src],
                               stdout=fo, stderr=subprocess.PIPE, text=True, timeout=600)
        summary = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        m = re.match(r"^(\d+) events, (\d+) converted, (\d+) refused, (\d+) malformed$", summary)
        if r.returncode != 0 or not m:
            fail("%s -> %s: ocsf-convert exit %d: %s" % (name, v, r.returncode,
                                                         r.stderr[-2000:]))
        n, conv, ref, bad = (int(x) for x in m.groups())
        if n != len(lines) or conv + ref != n or bad != 0:
            fail("%s -> %s: %s (input %d lines)" % (name, v, summary, len(lines)))
        reasons = [l for l in r.stderr.splitlines() if ": refused: " in l]
        if len(reasons) != ref or any(not l.split(": refused: ", 1)[1].strip()
                                      for l in reasons):
            fail("%s -> %s: %d refusals but %d reasons" % (name, v, ref, len(reasons)))
        if conv:
            val = subprocess.run(["/usr/bin/python3", os.path.join(root, "tools", "ocsf-validate"),
                                  "--version", v, out], capture_output=True, text=True,
                                 timeout=1200)
            want = "%d lines, %d valid, 0 invalid" % (conv, conv)
            if val.returncode != 0 or want not in val.stdout:
                fail("%s -> %s: converted events do not validate:\n%s%s"
                     % (name, v, val.stdout[-4000:], val.stderr[-1000:]))
        refused[v] = ref
        print("%s -> %s: %d events, %d converted (all valid), %d refused"
              % (name, v, n, conv, ref))
        for l in sorted(set(x.split(": refused: ", 1)[1] for x in reasons))[:5]:
            print("    refused: " + l)
    return refused


def docs_table(root):
    """{set name: (events, {version: refused})} from docs/siem.md."""
    rows = {}
    with open(os.path.join(root, "docs", "siem.md"), encoding="utf-8") as f:
        text = f.read()
    sec = text.split("### Refusals on the samples", 1)
    if len(sec) != 2:
        fail("docs/siem.md has no '### Refusals on the samples' section")
    for line in sec[1].splitlines():
        m = re.match(r"^\| (emit samples|descriptor samples) \| (\d+) \| (\d+) \| (\d+) \| "
                     r"(\d+) \| (\d+) \|$", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), dict(zip(VERSIONS, (int(x) for x in
                                                                    m.groups()[2:]))))
    return rows


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    root, bin_dir = argv[1], argv[2]
    log_dir = argv[3] if len(argv) > 3 else None
    docs = docs_table(root)
    with tempfile.TemporaryDirectory() as tmp:
        sets = [("emit samples", storm_samples(bin_dir, tmp)),
                ("descriptor samples", descriptor_samples(bin_dir))]
        for name, lines in sets:
            got = convert_and_validate(root, bin_dir, tmp, name.replace(" ", "_"), lines)
            if name not in docs:
                fail("docs/siem.md: no row for %r in 'Refusals on the samples'" % name)
            n, want = docs[name]
            if n != len(lines) or got != want:
                fail("%s: %d events, refused %s; docs/siem.md says %d events, refused %s"
                     % (name, len(lines), got, n, want))
        if log_dir and os.path.isdir(log_dir):
            lines = run_logs(log_dir)
            if lines:
                convert_and_validate(root, bin_dir, tmp, "e2e_run", lines)
            else:
                print("no archived OCSF JSONL under %s (run alone): samples only" % log_dir)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
