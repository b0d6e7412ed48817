#!/usr/bin/python3
"""End-to-end test of `cmake --install`: files, hardening, units, and that the
installed programs run.

DESIGN
One `cmake --install` of the test's own build tree into a fresh DESTDIR
(prefix /usr/local as configured). The checks use the installed copies only:
the file list of cmake/Install.cmake; man pages with a title; the pkg-config
file, used to compile and run a small program against the installed OCSF
bindings; hardening seen by readelf (PIE, full RELRO, stack protector,
FORTIFY); `systemd-analyze verify` on the unit with its ExecStart resolved
inside the DESTDIR; `logrotate -d` on the snippet; and the installed gateway,
CLI and supervisor running one sandbox together on a Unix socket.
"""
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import osh_testdir  # noqa: E402

BUILD = os.environ.get("OSH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))


def cache(key):
    """A value from the build's CMakeCache.txt ("" when absent)."""
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            for ln in f:
                if ln.startswith(key + ":"):
                    return ln.strip().split("=", 1)[1]
    except FileNotFoundError:
        pass
    return ""


# Sanitizer builds instrument the libraries (programs linking them need the
# runtime) and leave FORTIFY to the sanitizers (cmake/Warnings.cmake).
SANITIZE = cache("OSH_SANITIZE").upper() in ("ON", "1", "TRUE", "YES")
PREFIX = os.environ.get("OSH_INSTALL_PREFIX", "/usr/local")

FILES = [
    "bin/openshell", "bin/openshell-gateway", "bin/openshell-sandbox",
    "share/man/man1/openshell.1", "share/man/man8/openshell-gateway.8",
    "share/man/man8/openshell-sandbox.8",
    "lib/libosh_ocsf.a", "lib/libosh_common.a",
    "include/openshell/ocsf.h", "include/openshell/ocsf_model.h", "include/openshell/ocsf_jsonw.h",
    "include/openshell/ocsf_gen.h", "include/openshell/osh_err.h",
    "lib/pkgconfig/openshell-ocsf.pc",
    "lib/systemd/system/openshell-gateway.service", "lib/sysusers.d/openshell.conf",
    "etc/logrotate.d/openshell",
    "share/bash-completion/completions/openshell", "share/zsh/vendor-completions/_openshell",
    "share/fish/vendor_completions.d/openshell.fish",
]

PROGRAM = r"""
#include <stdio.h>
#include <ocsf_gen.h>
int main(void)
{
	struct ocsf_application_lifecycle ev;
	char buf[8192];
	size_t len = 0;
	ocsf_application_lifecycle_init(&ev, OCSF_APPLICATION_LIFECYCLE_ACTIVITY_ID_START, "PKG_TEST");
	ocsf_product_set_name(ocsf_application_lifecycle_app(&ev), "pkgtest");
	if (ocsf_serialize(&ev.ev, buf, sizeof(buf), &len) != 0)
		return 1;
	printf("%.*s\n", (int)len, buf);
	return 0;
}
"""


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(0.02)


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # osh_testdir: JSONL validated, daemon stderr scanned for sanitizer
        # reports, logs archived, removed (tests/support/osh_testdir.py).
        cls.dir = osh_testdir.TestDir("install")
        cls.tmp = cls.dir.path
        cls.dest = os.path.join(cls.tmp, "dest")
        env = dict(os.environ, DESTDIR=cls.dest)
        r = subprocess.run(["cmake", "--install", BUILD], capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        cls.root = cls.dest + PREFIX

    @classmethod
    def tearDownClass(cls):
        cls.dir.finish()

    def p(self, rel):
        return os.path.join(self.root, rel)

    def test_listed_files_are_installed(self):
        for f in FILES:
            self.assertTrue(os.path.isfile(self.p(f)), f)
        for b in ("openshell", "openshell-gateway", "openshell-sandbox"):
            self.assertTrue(os.access(self.p("bin/" + b), os.X_OK), b)
        for page in ("share/man/man1/openshell.1", "share/man/man8/openshell-gateway.8"):
            with open(self.p(page)) as f:
                text = f.read()
            self.assertTrue(text.startswith('.TH "'), page)
            self.assertIn("Usage:", text)
        with open(self.p("share/man/man8/openshell-gateway.8")) as f:
            self.assertIn("socket-group GROUP", f.read())

    def test_ocsf_bindings_build_against_pkg_config(self):
        env = dict(os.environ, PKG_CONFIG_PATH=self.p("lib/pkgconfig"), PKG_CONFIG_SYSROOT_DIR=self.dest)
        r = subprocess.run(["pkg-config", "--cflags", "--libs", "openshell-ocsf"], capture_output=True,
                           text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        flags = r.stdout.split()
        self.assertIn("-I" + self.p("include/openshell"), flags)
        src = os.path.join(self.tmp, "t.c")
        exe = os.path.join(self.tmp, "t")
        with open(src, "w") as f:
            f.write(PROGRAM)
        extra = ["-fsanitize=address,undefined"] if SANITIZE else []
        r = subprocess.run(["cc", "-std=c17", "-o", exe, src] + flags + extra, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([exe], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"event_code":"PKG_TEST"', r.stdout)
        self.assertIn('"class_uid":6002', r.stdout)

    def test_binaries_are_hardened(self):
        for b in ("openshell", "openshell-gateway", "openshell-sandbox"):
            path = self.p("bin/" + b)
            hdr = subprocess.run(["readelf", "-h", path], capture_output=True, text=True).stdout
            self.assertRegex(hdr, r"Type:\s+DYN", b + ": not PIE")
            ph = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True).stdout
            self.assertIn("GNU_RELRO", ph, b)
            dyn = subprocess.run(["readelf", "-dW", path], capture_output=True, text=True).stdout
            self.assertTrue(re.search(r"\(FLAGS\).*\bNOW\b", dyn) or re.search(r"\(FLAGS_1\).*\bNOW\b", dyn)
                            or "BIND_NOW" in dyn, b + ": not full RELRO (no BIND_NOW)")
            syms = subprocess.run(["readelf", "--dyn-syms", "-W", path], capture_output=True, text=True).stdout
            self.assertIn("__stack_chk_fail", syms, b + ": no stack protector")
            if not SANITIZE:
                self.assertTrue(re.search(r"__\w+_chk\b", syms.replace("__stack_chk_fail", "")),
                                b + ": no FORTIFY (_chk) calls")

    def test_systemd_unit_verifies(self):
        unit = self.p("lib/systemd/system/openshell-gateway.service")
        with open(unit) as f:
            text = f.read()
        self.assertIn("ExecStart=%s/bin/openshell-gateway " % PREFIX, text)
        self.assertIn("KillMode=process", text)
        self.assertIn("--socket-group openshell", text)
        # verify the unit as installed, its binary resolved inside the DESTDIR
        d = os.path.join(self.tmp, "units")
        os.makedirs(d, exist_ok=True)
        local = os.path.join(d, "openshell-gateway.service")
        with open(local, "w") as f:
            f.write(text.replace("ExecStart=%s/bin/" % PREFIX, "ExecStart=%s/bin/" % self.root))
        r = subprocess.run(["systemd-analyze", "verify", local], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout + r.stderr, "", "systemd-analyze verify is not clean")
        with open(self.p("lib/sysusers.d/openshell.conf")) as f:
            self.assertRegex(f.read(), r"(?m)^g openshell -$")

    def test_logrotate_snippet_parses(self):
        snip = self.p("etc/logrotate.d/openshell")
        with open(snip) as f:
            self.assertIn("/var/lib/openshell/openshell-gateway.log", f.read())
        state = os.path.join(self.tmp, "logrotate.state")
        r = subprocess.run(["logrotate", "-d", "-s", state, snip], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("error", (r.stdout + r.stderr).lower())

    def test_installed_gateway_serves_a_sandbox(self):
        data = os.path.join(self.tmp, "data")
        os.makedirs(data)
        gw = subprocess.Popen([self.p("bin/openshell-gateway"), "--data-dir", data],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            addr = wait_for(lambda: open(os.path.join(data, "gateway.addr")).read().strip()
                            if os.path.exists(os.path.join(data, "gateway.addr")) else None, 15, "gateway.addr")
            env = dict(os.environ, OPENSHELL_GATEWAY=addr)
            cli = self.p("bin/openshell")
            r = subprocess.run([cli, "sandbox", "create", "--name", "inst", "--", "echo", "installed"],
                               capture_output=True, text=True, env=env, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            out = os.path.join(data, "sandboxes", "inst", "logs", "agent.log")
            wait_for(lambda: os.path.exists(out) and "installed" in open(out).read(), 15, "the agent's output")
            r = subprocess.run([cli, "sandbox", "delete", "inst"], capture_output=True, text=True, env=env,
                               timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            gw.send_signal(signal.SIGTERM)
            rc = gw.wait(timeout=30)
            err = gw.stderr.read().decode("utf-8", "replace")
            gw.stderr.close()
        self.assertEqual(rc, 0, err)
        self.assertEqual(osh_testdir.sanitizer_reports(err), [], err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
