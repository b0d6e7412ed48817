#!/usr/bin/python3
"""test_ctest_skips.py - tools/ctest-skips finds every kind of skip.

DESIGN
The reports are real: a throw-away CMake project with one test of each kind
(passing, SKIP_RETURN_CODE, a Python unittest skip, plain output that only
mentions the word) is configured and run by the same ctest that runs the
suite, with the options tools/test.sh uses under CI; the tool must name the
skips and only them. The Criterion "[SKIP]" form is checked on a report
with that output (Criterion's own format at verbosity 1).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TOOL = os.path.join(ROOT, "tools", "ctest-skips")

CMAKE = """cmake_minimum_required(VERSION 3.20)
project(skips NONE)
enable_testing()
add_test(NAME passes COMMAND /bin/sh -c "echo all fine; echo skipped words are no skip")
add_test(NAME code3 COMMAND /bin/sh -c "exit 3")
set_tests_properties(code3 PROPERTIES SKIP_RETURN_CODE 3)
add_test(NAME pyskip COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/t.py -v)
"""

PY = """import unittest
class T(unittest.TestCase):
    def test_runs(self):
        self.assertTrue(True)
    @unittest.skip("not on this host")
    def test_skipped(self):
        pass
unittest.main()
"""


def run_tool(path):
    return subprocess.run(["/usr/bin/python3", TOOL, path], capture_output=True, text=True)


class CtestSkips(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="osh-skips-")

    def tearDown(self):
        shutil.rmtree(self.d)

    def test_real_ctest_report(self):
        src, bld = os.path.join(self.d, "src"), os.path.join(self.d, "build")
        os.mkdir(src)
        with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
            f.write(CMAKE)
        with open(os.path.join(src, "t.py"), "w") as f:
            f.write(PY)
        subprocess.run(["cmake", "-S", src, "-B", bld], check=True, capture_output=True)
        junit = os.path.join(bld, "j.xml")
        subprocess.run(["ctest", "--test-dir", bld, "--output-junit", junit,
                        "--test-output-size-passed", "4194304"], capture_output=True)
        r = run_tool(junit)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(any(ln.startswith("code3: not run") for ln in lines), lines)
        self.assertTrue(any(ln.startswith("pyskip: unittest case test_skipped") for ln in lines),
                        lines)
        self.assertFalse(any(ln.startswith("passes:") for ln in lines), lines)

    def test_criterion_skip_and_clean_report(self):
        p = os.path.join(self.d, "j.xml")
        with open(p, "w") as f:
            f.write('<?xml version="1.0"?><testsuite><testcase name="test_confine" status="run">'
                    "<system-out>[RUN ] confine::a\n[SKIP] confine::root_only: run as root\n"
                    "[PASS] confine::b: (0.00s)\n</system-out></testcase></testsuite>")
        r = run_tool(p)
        self.assertEqual(r.returncode, 1)
        self.assertIn("test_confine: Criterion case confine::root_only skipped", r.stdout)
        with open(p, "w") as f:
            f.write('<?xml version="1.0"?><testsuite><testcase name="ok" status="run">'
                    "<system-out>[PASS] a::b: (0.00s)\nOK\n</system-out></testcase></testsuite>")
        self.assertEqual(run_tool(p).returncode, 0)

    def test_unreadable_report_is_an_error(self):
        self.assertEqual(run_tool(os.path.join(self.d, "missing.xml")).returncode, 2)
        p = os.path.join(self.d, "x.xml")
        with open(p, "w") as f:
            f.write("<html/>")
        self.assertEqual(run_tool(p).returncode, 2)


if __name__ == "__main__":
    unittest.main()
