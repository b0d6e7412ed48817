#!/usr/bin/python3
"""test_testdir_py.py - the Python twin of the test-directory fixture can fail.

DESIGN
osh_testdir.TestDir.finish() is what makes the e2e and integration tests
see invalid JSONL and the daemons' sanitizer reports; each check here feeds it
the bad input and expects the failure, and checks the directory is gone
either way. The synthetic events carry no registered code, so the census
directory is dropped for this process.
"""
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
import osh_testdir  # noqa: E402

GOOD = ('{"activity_id":0,"category_uid":0,"class_uid":0,"metadata":{"product":'
        '{"name":"t","vendor_name":"t"},"version":"1.7.0"},"severity_id":1,'
        '"time":1,"type_uid":0}\n')


def put(d, name, text):
    p = os.path.join(d.path, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)
    return p


class TestDirPy(unittest.TestCase):
    def setUp(self):
        os.environ.pop("OSH_TEST_LOG_DIR", None)

    def test_valid_passes_and_is_removed(self):
        d = osh_testdir.TestDir("fixture-py")
        path = d.path
        put(d, "openshell-ocsf.log", GOOD)
        put(d, "sandboxes/a/supervisor.stderr", "2026-12-06T00:00:00.000Z INFO fine\n")
        d.finish()
        self.assertFalse(os.path.exists(path))

    def test_invalid_jsonl_fails(self):
        d = osh_testdir.TestDir("fixture-py")
        path = d.path
        put(d, "openshell-ocsf.log", GOOD.replace('"severity_id":1', '"severity_id":42'))
        with self.assertRaises(osh_testdir.InvalidJsonl):
            d.finish()
        self.assertFalse(os.path.exists(path))

    def test_sanitizer_report_in_supervisor_stderr_fails(self):
        for text in ("==12==ERROR: AddressSanitizer: heap-use-after-free on address 0x1\n",
                     "==12==ERROR: LeakSanitizer: detected memory leaks\n",
                     "src/x.c:3:9: runtime error: signed integer overflow\n"):
            d = osh_testdir.TestDir("fixture-py")
            path = d.path
            put(d, "sandboxes/a/supervisor.stderr", "ok\n" + text)
            with self.assertRaises(osh_testdir.SanitizerReport) as cm:
                d.finish()
            self.assertIn("supervisor.stderr", str(cm.exception))
            self.assertFalse(os.path.exists(path))

    def test_watched_file_outside_the_dir_is_scanned(self):
        d = osh_testdir.TestDir("fixture-py")
        other = osh_testdir.TestDir("fixture-py")
        p = put(other, "gw.out", "==1==ERROR: AddressSanitizer: SEGV\n")
        d.watch(p)
        with self.assertRaises(osh_testdir.SanitizerReport):
            d.finish()
        shutil.rmtree(other.path)

    def test_check_exit(self):
        osh_testdir.check_exit("gateway", 0, {0})
        with self.assertRaisesRegex(AssertionError, "killed by signal 6"):
            osh_testdir.check_exit("gateway", -6, {0})
        with self.assertRaisesRegex(AssertionError, "exit 134"):
            osh_testdir.check_exit("supervisor", 134, {143})


if __name__ == "__main__":
    unittest.main()
