#!/usr/bin/python3
"""End-to-end tests of confinement: the real openshell-sandbox (standalone and
under the real gateway) running a real, confined command.

DESIGN
The command is tests/unit/confine/confine_probe (copied into a 0755 temp dir
under /tmp, a baseline read-write path, so the sandbox user can run it): one
output line per probe, "probe=ok" or the errno name, so each assertion is an
exact outcome (EACCES from Landlock or file modes, EPERM from seccomp or the
dropped ids). Directories that only Landlock can refuse live under /var/tmp
(no baseline rule) with mode 0777. Events are read from openshell.log (and
from the JSONL file in gateway mode, validated with tools/ocsf-validate).
Runs as root (CI does); skips otherwise. No sleeps: every wait polls a
condition with a deadline.
"""
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_supervisor_e2e as base  # noqa: E402  (helpers only; its tests are not re-run)

SANDBOX = base.SANDBOX
PROBE_SRC = os.environ.get("OSH_PROBE", os.path.join(base.BIN, "..", "tests", "confine_probe"))
USER = "openshell-sandbox"
TS = base.TS


def lines_of(text):
    return base.ocsf_lines(text)


@unittest.skipUnless(os.geteuid() == 0, "confinement switches users: run as root (CI does)")
class Standalone(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="osh-confine-e2e-")
        os.chmod(self.tmp, 0o755)
        self.probe = os.path.join(self.tmp, "confine_probe")
        shutil.copy(PROBE_SRC, self.probe)
        os.chmod(self.probe, 0o755)
        self.logs = os.path.join(self.tmp, "logs")
        os.makedirs(self.logs)
        self.var = tempfile.mkdtemp(prefix="osh-confine-e2e-", dir="/var/tmp")
        os.chmod(self.var, 0o777)

    def tearDown(self):
        base.keep_logs(self.tmp, self.id())  # for the site census
        shutil.rmtree(self.tmp, ignore_errors=True)
        shutil.rmtree(self.var, ignore_errors=True)

    def policy(self, text):
        p = os.path.join(self.tmp, "policy.yaml")
        with open(p, "w") as f:
            f.write(text)
        return p

    def run_sb(self, cmd, policy=None, env=None, pass_fds=(), timeout=30):
        args = [SANDBOX, "--log-dir", self.logs]
        if policy:
            args += ["--policy", policy]
        e = {"PATH": "/usr/bin:/bin"}
        e.update(env or {})
        r = subprocess.run(args + ["--"] + cmd, capture_output=True, text=True, env=e,
                           pass_fds=pass_fds, timeout=timeout)
        self.log = base.read(os.path.join(self.logs, "openshell.log"))
        return r

    def probe_run(self, *probes, **kw):
        r = self.run_sb([self.probe] + list(probes), **kw)
        self.assertEqual(r.returncode, 0, "stdout:\n%s\nstderr:\n%s\nlog:\n%s" %
                         (r.stdout, r.stderr, self.log))
        return dict(ln.split("=", 1) for ln in r.stdout.splitlines() if "=" in ln)

    def test_command_runs_as_the_sandbox_user(self):
        out = self.probe_run("id", "setuid0", "read:/etc/shadow", "env:USER", "env:HOME")
        pw = pwd.getpwnam(USER)
        self.assertNotEqual(pw.pw_uid, 0)
        uid, euid, gid, egid, _ = out["id"].split(":")
        self.assertEqual((int(uid), int(euid)), (pw.pw_uid, pw.pw_uid))
        self.assertEqual((int(gid), int(egid)), (pw.pw_gid, pw.pw_gid))
        self.assertEqual(out["setuid0"], "EPERM", "root cannot be regained")
        self.assertEqual(out["read:/etc/shadow"], "EACCES")
        self.assertEqual(out["env:USER"], USER)
        lines = lines_of(self.log)
        self.assertTrue(any(re.match(r"PROC:SET_USER_ID \[INFO\] ALLOWED confine_probe\(\d+\)$",
                                     ln) for ln in lines), self.log)
        self.assertTrue(any(ln.startswith("CONFIG:ENABLED [INFO] Landlock ABI ")
                            for ln in lines), self.log)
        self.assertTrue(any(ln.startswith("CONFIG:ENABLED [INFO] seccomp filter loaded")
                            for ln in lines), self.log)
        # The policy event names what is not enforced: never these three.
        default = [ln for ln in lines if ln.startswith("CONFIG:DEFAULT")]
        self.assertEqual(len(default), 1, self.log)
        m = re.search(r"not enforced: ([a-z0-9, ]+)", default[0])
        missing = m.group(1).split(", ") if m else []
        for p in ("filesystem", "process", "seccomp"):
            self.assertNotIn(p, missing, default[0])

    def test_writes_only_inside_read_write_paths(self):
        ro = os.path.join(self.var, "ro")
        rw = os.path.join(self.var, "rw")
        outside = os.path.join(self.var, "outside")
        new = os.path.join(self.var, "made", "by", "policy")
        for d in (ro, rw, outside):
            os.makedirs(d)
            os.chmod(d, 0o777)
        pol = self.policy("version: 1\n"
                          "filesystem_policy:\n"
                          "  read_only: [%s, /osh-e2e-missing]\n"
                          "  read_write: [%s, %s]\n" % (ro, rw, new))
        out = self.probe_run("write:%s/f" % ro, "write:%s/f" % rw, "write:%s/f" % outside,
                             "read:%s" % outside, "write:%s/f" % new, "read:%s" % ro,
                             policy=pol)
        self.assertEqual(out["write:%s/f" % ro], "EACCES", "read-only path")
        self.assertEqual(out["read:%s" % ro], "ok")
        self.assertEqual(out["write:%s/f" % rw], "ok", "read-write path")
        self.assertEqual(out["write:%s/f" % outside], "EACCES", "outside every rule")
        self.assertEqual(out["read:%s" % outside], "EACCES")
        self.assertEqual(out["write:%s/f" % new], "ok", "created read-write directory")
        uid = pwd.getpwnam(USER).pw_uid
        self.assertEqual(os.stat(new).st_uid, uid)
        self.assertEqual(os.stat(os.path.join(self.var, "made")).st_uid, uid)
        self.assertEqual(os.stat(self.var).st_uid, 0, "an existing path is never re-owned")
        self.assertIn("CONFIG:CREATED [INFO] read-write directory %s created" % new, self.log)
        self.assertIn("CONFIG:SKIPPED [LOW] best_effort: read-only path /osh-e2e-missing",
                      self.log)

    def test_denied_syscalls_fail_with_eperm(self):
        out = self.probe_run("ptrace", "mount", "bpf", "unshare-user", "clone-user", "io_uring")
        for p in ("ptrace", "mount", "bpf", "unshare-user", "clone-user", "io_uring"):
            self.assertEqual(out[p], "EPERM", p)
        # ... and each is reported, naming the call and the process.
        for call in ("ptrace", "mount", "bpf", "unshare", "clone", "io_uring_setup"):
            self.assertRegex(self.log, r'FINDING:BLOCKED \[MED\] "System call denied" '
                                       r'\[type:syscall-denied confidence:high\] \[reason:seccomp '
                                       r'denied %s to confine_probe \(pid \d+\): EPERM\]' % call)
        r = self.run_sb(["unshare", "-U", "true"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Operation not permitted", r.stderr)
        self.assertIn("seccomp denied unshare to unshare (pid", self.log)

    def test_unsafe_policy_is_a_finding(self):
        pol = self.policy("version: 1\nfilesystem_policy: {read_write: [/tmp, /etc]}\n")
        out = self.probe_run("write:/etc/osh-e2e-never", policy=pol)
        # Applied as written (and reported): Landlock allows it, file modes
        # still refuse the sandbox user.
        self.assertEqual(out["write:/etc/osh-e2e-never"], "EACCES")
        self.assertFalse(os.path.exists("/etc/osh-e2e-never"))
        self.assertIn('FINDING:CREATE [HIGH] "Unsafe Policy Content" [type:unsafe-policy '
                      'confidence:high]', self.log)

    def test_root_user_or_unknown_user_refused(self):
        for who, why in (("root", "is root (uid 0): the command never runs as root"),
                         ("osh-e2e-no-such-user", "sandbox user not found: osh-e2e-no-such-user")):
            pol = self.policy("version: 1\nprocess: {run_as_user: %s}\n" % who)
            r = self.run_sb([self.probe, "id"], policy=pol)
            self.assertEqual(r.returncode, 125, r.stderr)
            self.assertNotIn("id=", r.stdout, "the command never ran")
            self.assertRegex(self.log, r"CONFIG:REFUSED \[HIGH\] confinement cannot be prepared, "
                                       r"the command is not started: user: .*" + re.escape(why))
            self.assertIn("LIFECYCLE:STOP [HIGH] openshell-sandbox failure", self.log)
        self.assertIn('"Unsafe Policy Content"', self.log, "root is also a finding")

    def test_landlock_unavailable_or_weaker(self):
        f = os.path.join(self.var, "f")
        out = self.probe_run("write:%s" % f, env={"OPENSHELL_LANDLOCK_ABI_MAX": "0"})
        self.assertEqual(out["write:%s" % f], "ok", "no Landlock: nothing restricts it")
        self.assertIn('FINDING:CREATE [HIGH] "Landlock unavailable"', self.log)
        default = [ln for ln in lines_of(self.log) if ln.startswith("CONFIG:DEFAULT")][-1]
        self.assertRegex(default, r"not enforced: .*filesystem", "never claimed when absent")
        self.assertNotRegex(self.log, r"CONFIG:ENABLED \[INFO\] Landlock")
        out = self.probe_run("write:%s" % f, env={"OPENSHELL_LANDLOCK_ABI_MAX": "2"})
        self.assertEqual(out["write:%s" % f], "EACCES")
        self.assertIn('FINDING:CREATE [MED] "Landlock weaker than asked"', self.log)
        self.assertIn("Landlock ABI 2 applied", self.log)
        r = self.run_sb([self.probe, "id"], env={"OPENSHELL_LANDLOCK_ABI_MAX": "0"},
                        policy=self.policy("version: 1\n"
                                           "landlock: {compatibility: hard_requirement}\n"))
        self.assertEqual(r.returncode, 125)
        self.assertIn("landlock: hard_requirement but Landlock is not available", self.log)

    def test_secrets_reach_the_command_only_as_placeholders(self):
        value = "sk-e2e-%d-very-secret" % os.getpid()
        rfd, wfd = os.pipe()
        os.write(wfd, ("API_KEY=%s\nOTHER=x\n" % value).encode())
        os.close(wfd)
        try:
            out = self.probe_run("env:API_KEY", "env:OTHER", env={"OPENSHELL_SECRETS_FD": str(rfd)},
                                 pass_fds=(rfd,))
        finally:
            os.close(rfd)
        self.assertEqual(out["env:API_KEY"], "openshell:resolve:env:API_KEY")
        self.assertEqual(out["env:OTHER"], "openshell:resolve:env:OTHER")
        self.assertNotIn(value, self.log)
        self.assertIn("CONFIG:LOADED [INFO] 2 secrets held by the supervisor", self.log)
        # A value with CR is refused: the sandbox does not start.
        rfd, wfd = os.pipe()
        os.write(wfd, b"BAD=a\rb\n")
        os.close(wfd)
        try:
            r = self.run_sb([self.probe, "id"], env={"OPENSHELL_SECRETS_FD": str(rfd)},
                            pass_fds=(rfd,))
        finally:
            os.close(rfd)
        self.assertEqual(r.returncode, 125)
        self.assertIn("secrets line 1: secret BAD: value contains CR", self.log)


@unittest.skipUnless(os.geteuid() == 0, "confinement switches users: run as root (CI does)")
class UnderGateway(unittest.TestCase):
    """The gateway path: --secret at create, JSONL on, schema-valid. Borrows
    the gateway fixture of test_supervisor_e2e.E2E (not its tests)."""

    setUp = base.E2E.setUp
    tearDown = base.E2E.tearDown
    validate = base.E2E.validate
    gateway = base.E2E.gateway

    def test_secret_and_confinement_events_in_both_files(self):
        value = "ghp-e2e-%d-secret" % os.getpid()
        probe_dir = tempfile.mkdtemp(prefix="osh-confine-gw-")
        os.chmod(probe_dir, 0o755)
        probe = os.path.join(probe_dir, "confine_probe")
        shutil.copy(PROBE_SRC, probe)
        os.chmod(probe, 0o755)
        try:
            g = self.gateway()
            g.cli("config", "set", "ocsf_logging_enabled", "true")
            pol = os.path.join(self.tmp, "policy.yaml")
            with open(pol, "w") as f:
                f.write("version: 1\nfilesystem_policy: {read_write: [/tmp, /usr/local]}\n")
            env = dict(os.environ)
            env["GH_TOKEN"] = value
            # One secret by value, one from the CLI's environment (not argv).
            r = subprocess.run([base.CLI, "--gateway", g.addr, "sandbox", "create", "--name",
                                "conf", "--policy", pol, "--secret", "API_KEY=k-%s" % value,
                                "--secret", "GH_TOKEN", "--", "sh", "-c",
                                "%s id env:GH_TOKEN env:API_KEY > /tmp/osh-gw-probe-%d.out; "
                                "exec sleep 60" % (probe, os.getpid())],
                               capture_output=True, text=True, env=env, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            d = g.logs_dir("conf")
            log = os.path.join(d, "openshell.log")
            jl = os.path.join(d, "openshell-ocsf.log")
            outp = "/tmp/osh-gw-probe-%d.out" % os.getpid()
            base.wait_for(lambda: "env:API_KEY=" in base.read(outp), 15, "probe output")
            out = base.read(outp)
            self.assertIn("env:GH_TOKEN=openshell:resolve:env:GH_TOKEN", out)
            self.assertIn("env:API_KEY=openshell:resolve:env:API_KEY", out)
            self.assertNotIn(value, out)
            events = base.wait_for(
                lambda: (lambda ev: ev if "CONFINE_SECCOMP" in
                         [e["metadata"]["event_code"] for e in ev] else None)(base.jsonl(jl)),
                15, "CONFINE_SECCOMP in JSONL")
            codes = [e["metadata"]["event_code"] for e in events]
            for c in ("CONFINE_SECRETS", "CONFINE_UNSAFE_POLICY", "CONFINE_USER",
                      "CONFINE_LANDLOCK", "CONFINE_SECCOMP"):
                self.assertIn(c, codes)
            self.assertTrue(events[codes.index("CONFINE_SECCOMP")]["unmapped"]["denials_reported"])
            sec = events[codes.index("CONFINE_SECRETS")]
            self.assertEqual(sorted(sec["unmapped"]["names"]), ["API_KEY", "GH_TOKEN"])
            user = events[codes.index("CONFINE_USER")]
            self.assertEqual(user["process"]["user"]["name"], USER)
            unsafe = events[codes.index("CONFINE_UNSAFE_POLICY")]
            self.assertEqual(unsafe["unmapped"]["first_field"], "filesystem.read_write[1]")
            for f in (log, jl):
                self.assertNotIn(value, base.read(f), "a secret value in %s" % f)
            # The supervisor's argv and environment never hold the value.
            pid = g.sandbox_row("conf")["pid"]
            for part in ("cmdline", "environ"):
                with open("/proc/%d/%s" % (pid, part), "rb") as f:
                    self.assertNotIn(value.encode(), f.read())
            # A value with LF is refused at create, naming the secret only.
            r = g.cli("sandbox", "create", "--name", "bad", "--secret", "X=a\nb", "--", "true",
                      check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("--secret X: value contains LF", r.stderr)
        finally:
            shutil.rmtree(probe_dir, ignore_errors=True)
            try:
                os.unlink("/tmp/osh-gw-probe-%d.out" % os.getpid())
            except FileNotFoundError:
                pass



@unittest.skipUnless(os.geteuid() == 0, "confinement switches users: run as root (CI does)")
class SecretOnTheWire(unittest.TestCase):
    """A secret reaches an origin on loopback only through the proxy: the
    command's environment holds the placeholder, the origin sees the value,
    and a placeholder the proxy cannot resolve never leaves (500)."""

    def setUp(self):
        import http.server
        import threading
        seen = self.seen = []

        class Origin(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append((self.path, self.headers.get("Authorization", "")))
                self.send_response(200)
                self.send_header("Content-Length", "3")
                self.end_headers()
                self.wfile.write(b"ok\n")

            def log_message(self, *args):
                pass

        self.tmp = tempfile.mkdtemp(prefix="osh-confine-wire-")
        self.origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
        self.oport = self.origin.server_address[1]
        threading.Thread(target=self.origin.serve_forever, daemon=True).start()

    def tearDown(self):
        self.origin.shutdown()
        self.origin.server_close()
        base.keep_logs(self.tmp, self.id())
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_placeholder_substituted_only_on_the_wire(self):
        import test_network_proxy_e2e as tnp
        value = "sk-wire-%d" % os.getpid()
        pol = os.path.join(self.tmp, "policy.yaml")
        with open(pol, "w") as f:
            f.write(tnp.policy_yaml(self.oport, [tnp.CURL]))
        out = base.sandbox_writable(os.path.join(self.tmp, "agent.out"))
        agent = ("echo env=$API_KEY >> %(out)s; "
                 "c() { %(curl)s -sS -m 10 --noproxy '' -o /dev/null -w '%%{http_code}' \"$@\"; }; "
                 "echo ok=$(c -H \"Authorization: Bearer $API_KEY\" "
                 "http://localhost:%(o)d/ok) >> %(out)s; "
                 "echo nope=$(c -H 'Authorization: Bearer openshell:resolve:env:NOPE' "
                 "http://localhost:%(o)d/nope) >> %(out)s"
                 % {"out": out, "curl": tnp.CURL, "o": self.oport})
        rfd, wfd = os.pipe()
        os.write(wfd, ("API_KEY=%s\n" % value).encode())
        os.close(wfd)
        try:
            r = subprocess.run([SANDBOX, "--log-dir", self.tmp, "--policy", pol, "--",
                                "sh", "-c", agent],
                               env={"PATH": "/usr/bin:/bin", "OPENSHELL_SECRETS_FD": str(rfd)},
                               pass_fds=(rfd,), capture_output=True, text=True, timeout=60)
        finally:
            os.close(rfd)
        text = base.read(out)
        self.assertEqual(r.returncode, 0, r.stderr + text)
        self.assertIn("env=openshell:resolve:env:API_KEY", text, "the command sees the placeholder")
        self.assertNotIn(value, text)
        self.assertIn("ok=200", text)
        self.assertIn("nope=500", text, "an unresolved placeholder never leaves")
        self.assertEqual(self.seen, [("/ok", "Bearer %s" % value)],
                         "the origin saw the value once, and never the refused request")
        log = base.read(os.path.join(self.tmp, "openshell.log"))
        self.assertNotIn(value, log, "no secret value in the log")
        self.assertIn("secret placeholder refused", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
