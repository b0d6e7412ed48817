"""Unit tests for tools/site-census (run by codegen_unit).

DESIGN
The real tool runs as a subprocess (/usr/bin/python3, as CI runs it) on log
files written here, once against the committed registry
(generated/sites.json) and once against small hand-made registries for the
error paths (ambiguous patterns, required sites). Every case checks the exit
code and the exact lines that matter.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CENSUS = os.path.join(ROOT, "tools", "site-census")
TS = "2026-12-06T10:00:00.000Z"


def jline(code, **extra):
    ev = {"class_uid": 0, "metadata": {"event_code": code}}
    ev.update(extra)
    return json.dumps(ev)


class Census(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="census-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, rel, lines):
        path = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def run_census(self, *args):
        p = subprocess.run(["/usr/bin/python3", CENSUS] + list(args), capture_output=True,
                           text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def registry(self, sites):
        return self.write("sites.json", [json.dumps({"sites": sites})])

    def test_counts_jsonl_and_shorthand_in_registry_order(self):
        self.write("logs/a/openshell-ocsf.log", [jline("PROC_LAUNCH"), jline("PROC_LAUNCH"),
                                                 jline("SUP_STOP")])
        self.write("logs/b/openshell.log", [
            TS + " OCSF PROC:TERMINATE [INFO] sh(42) [exit:3] [cmd:sh -c exit 3]",
            TS + " OCSF CONFIG:LOADED [INFO] policy loaded from file /p.yaml (version 1)",
            TS + " INFO supervisor: SIGHUP: reopening log files",
            ""])
        rc, out, err = self.run_census(os.path.join(self.tmp, "logs"))
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        with open(os.path.join(ROOT, "generated", "sites.json")) as f:
            codes = [s["code"] for s in json.load(f)["sites"]]
        self.assertEqual([ln.split()[0] for ln in lines[:-1]], codes)
        got = dict(ln.split() for ln in lines[:-1])
        self.assertEqual(got["PROC_LAUNCH"], "2")
        self.assertEqual(got["SUP_STOP"], "1")
        self.assertEqual(got["PROC_EXIT"], "1")
        self.assertEqual(got["POLICY_LOAD_LOCAL"], "1")
        self.assertEqual(got["POLICY_LOAD_GATEWAY"], "0")
        self.assertEqual(lines[-1], "census: 4 of %d sites fired" % len(codes))

    def test_unregistered_code_exits_1_and_names_it(self):
        f = self.write("openshell-ocsf.log", [jline("PROC_LAUNCH"), jline("NOT_A_SITE")])
        rc, out, err = self.run_census(f)
        self.assertEqual(rc, 1)
        self.assertIn("openshell-ocsf.log:2: unregistered event code 'NOT_A_SITE'", err)
        self.assertIn("census: 1 of", out)

    def test_require_fired_names_missing_sites(self):
        reg = self.registry([
            {"code": "A_SITE", "class": "base_event", "activity": "other",
             "severity": "informational", "subsystem": "x", "fired_by_tests": True},
            {"code": "B_SITE", "class": "base_event", "activity": "other",
             "severity": "informational", "subsystem": "x", "fired_by_tests": True},
            {"code": "C_SITE", "class": "base_event", "activity": "other",
             "severity": "informational", "subsystem": "x", "fired_by_tests": False}])
        f = self.write("openshell-ocsf.log", [jline("A_SITE")])
        g = self.write("more/openshell-ocsf.log", [jline("C_SITE")])
        report = os.path.join(self.tmp, "report.txt")
        rc, out, err = self.run_census("--sites", reg, "--require-fired", f, g)
        self.assertEqual(rc, 1)
        self.assertIn("note: C_SITE fired 1 time(s) but is marked fired_by_tests: false", err)
        rc, out, err = self.run_census("--sites", reg, "--require-fired", "--report", report, f)
        self.assertEqual(rc, 1)
        self.assertEqual(out, "A_SITE 1\nB_SITE 0\nC_SITE 0\ncensus: 1 of 3 sites fired\n")
        self.assertIn("B_SITE is marked fired_by_tests: true", err)
        self.assertNotIn("C_SITE", err)
        with open(report) as fh:
            self.assertEqual(fh.read(), out)
        rc, out, err = self.run_census("--sites", reg, f)
        self.assertEqual(rc, 0, "without --require-fired a missing site is not an error")

    def test_ambiguous_shorthand_line_exits_1(self):
        reg = self.registry([
            {"code": "A_SITE", "class": "base_event", "activity": "other",
             "severity": "informational", "subsystem": "x", "fired_by_tests": False,
             "match": r"EVENT \[\w+\] a"},
            {"code": "B_SITE", "class": "base_event", "activity": "other",
             "severity": "informational", "subsystem": "x", "fired_by_tests": False,
             "match": r"EVENT \[\w+\] ab"}])
        f = self.write("openshell.log", [TS + " OCSF EVENT [INFO] a only",
                                         TS + " OCSF EVENT [INFO] abc"])
        rc, out, err = self.run_census("--sites", reg, f)
        self.assertEqual(rc, 1)
        self.assertIn("openshell.log:2: shorthand line matches several sites (A_SITE, B_SITE)",
                      err)
        self.assertTrue(out.startswith("A_SITE 1\nB_SITE 0\n"))

    def test_bad_input_is_named(self):
        f = self.write("openshell-ocsf.log", [jline("PROC_LAUNCH"), "{not json"])
        rc, _, err = self.run_census(f)
        self.assertEqual(rc, 2)
        self.assertIn("openshell-ocsf.log:2: not a JSON line", err)
        rc, _, err = self.run_census(os.path.join(self.tmp, "missing.log"))
        self.assertEqual(rc, 2)
        self.assertIn("missing.log: no such file or directory", err)
        os.makedirs(os.path.join(self.tmp, "empty"))
        rc, _, _ = self.run_census(os.path.join(self.tmp, "empty"))
        self.assertEqual(rc, 3, "no log file at all is 'skipped' for ctest")
        rc, _, _ = self.run_census("--missing-ok", os.path.join(self.tmp, "never-made"))
        self.assertEqual(rc, 3, "--missing-ok: an absent census dir is no input")

    def test_registry_mode(self):
        rc, out, _ = self.run_census("--registry")
        self.assertEqual(rc, 0)
        self.assertIn("PROC_LAUNCH process_activity launch informational supervisor/core tests",
                      out.splitlines())
        self.assertIn("PROC_KILL_FAILED process_activity terminate high supervisor/core "
                      "no-tests", out.splitlines())


if __name__ == "__main__":
    unittest.main()
