"""Integration: openshell-gateway + openshell CLI + a Python gRPC client.

Run by ctest (tests/integration/CMakeLists.txt) with OSH_BIN_DIR and
OSH_PROTO_DIR set. See osh_itest.py for the harness.
"""

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import osh_itest as it  # noqa: E402

import grpc  # noqa: E402

POLICY_YAML = """version: 1
filesystem_policy: {include_workdir: true, read_only: [/usr, /lib], read_write: [/tmp]}
landlock: {compatibility: best_effort}
network_policies:
  github:
    endpoints:
      - host: api.github.com
        port: 443
    binaries: [{path: /usr/bin/curl}]
"""


def create_sandbox(gw, name, policy=True):
    args = ["sandbox", "create", "--name", name]
    if policy:
        path = os.path.join(gw.data_dir, name + "-policy.yaml")
        with open(path, "w") as f:
            f.write(POLICY_YAML)
        args += ["--policy", path]
    args += ["--", "sleep", "600"]
    r = gw.cli(*args, check=0)
    assert r.stdout.startswith("sandbox %s created (id " % name), r.stdout
    sid = r.stdout.split("(id ", 1)[1].split(",", 1)[0]
    return sid


def revision_of(gw):
    r = gw.cli("config", "get", check=0)
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("config_revision = "), r.stdout
    return int(last.split("=", 1)[1])


class GatewayCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pb, cls.pbg = it.stubs()
        cls.gw = it.Gateway().start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.gw.kill_supervisors()  # every supervisor stopped by delete exits 143
        finally:
            cls.gw.finish()  # exit 0, JSONL valid, no sanitizer report, dir removed

    def test_config_set_moves_revision(self):
        gw = self.gw
        r0 = revision_of(gw)
        r = gw.cli("config", "get", "ocsf_logging_enabled", check=0)
        self.assertIn("ocsf_logging_enabled = ", r.stdout)
        want = "false" if "= true" in r.stdout else "true"
        word = {"true": "YES", "false": "off"}[want]
        r = gw.cli("config", "set", "ocsf_logging_enabled", word, check=0)
        self.assertEqual(r.stdout, "ocsf_logging_enabled = %s (config_revision %d)\n" % (want, r0 + 1))
        self.assertEqual(revision_of(gw), r0 + 1)
        # same value again: no change, revision stays
        r = gw.cli("config", "set", "ocsf_logging_enabled", want, check=0)
        self.assertIn("unchanged", r.stdout)
        self.assertEqual(revision_of(gw), r0 + 1)
        # bad values are refused with a clear line, revision untouched
        r = gw.cli("config", "set", "ocsf_logging_enabled", "maybe", check=1)
        self.assertIn("invalid value 'maybe' for ocsf_logging_enabled", r.stderr)
        r = gw.cli("config", "set", "no_such_key", "1", check=1)
        self.assertIn("no_such_key", r.stderr)
        self.assertEqual(revision_of(gw), r0 + 1)
        # the supervisor-facing view agrees
        sid = create_sandbox(gw, "cfgview")
        resp = gw.stub.GetSandboxPolicy(self.pb.GetSandboxPolicyRequest(sandbox_id=sid), timeout=10,
                                        metadata=gw.md(sid))
        self.assertTrue(resp.HasField("sandbox_config"))
        self.assertEqual(resp.sandbox_config.config_revision, r0 + 1)
        self.assertEqual(resp.sandbox_config.logging.ocsf_enabled, want == "true")

    def test_create_list_policy_delete(self):
        gw = self.gw
        sid = create_sandbox(gw, "box1")
        r = gw.cli("sandbox", "list", check=0)
        rows = [l.split() for l in r.stdout.splitlines()]
        self.assertEqual(rows[0], ["NAME", "ID", "STATE", "PID", "EXIT", "CREATED", "LABELS"])
        self.assertIn(sid, [row[1] for row in rows if row[0] == "box1"])
        # same name twice: refused
        r = gw.cli("sandbox", "create", "--name", "box1", "--", "sleep", "1", check=1)
        self.assertIn("box1", r.stderr)
        # policy through a second gRPC stack (Python), with the sandbox_config
        resp = gw.stub.GetSandboxPolicy(self.pb.GetSandboxPolicyRequest(sandbox_id=sid), timeout=10,
                                        metadata=gw.md(sid))
        self.assertTrue(resp.HasField("policy"))
        self.assertEqual(list(resp.policy.filesystem.read_only), ["/usr", "/lib"])
        self.assertEqual(resp.policy.landlock.compatibility, "best_effort")
        ep = resp.policy.network_policies["github"].endpoints[0]
        self.assertEqual((ep.host, ep.port), ("api.github.com", 443))
        self.assertGreaterEqual(resp.version, 1)
        self.assertTrue(resp.policy_hash)
        self.assertTrue(resp.HasField("sandbox_config"))
        self.assertGreaterEqual(resp.sandbox_config.config_revision, 1)
        # unknown sandbox: NOT_FOUND
        with self.assertRaises(grpc.RpcError) as cm:
            gw.stub.GetSandboxPolicy(self.pb.GetSandboxPolicyRequest(sandbox_id="nope"), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        # another sandbox's credential: PERMISSION_DENIED
        with self.assertRaises(grpc.RpcError) as cm:
            gw.stub.GetSandboxPolicy(self.pb.GetSandboxPolicyRequest(sandbox_id="nope"), timeout=10,
                                     metadata=gw.md(sid))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        # a policy that fails validation is refused, naming the problem
        bad = os.path.join(gw.data_dir, "bad.yaml")
        with open(bad, "w") as f:
            f.write("version: 1\nfilesystem_policy: {read_write: [relative/path]}\n")
        r = gw.cli("sandbox", "create", "--name", "badpol", "--policy", bad, check=1)
        self.assertIn("relative/path", r.stderr)
        r = gw.cli("sandbox", "delete", "box1", check=0)
        self.assertEqual(r.stdout, "sandbox box1 deleted\n")
        r = gw.cli("sandbox", "list", check=0)
        self.assertNotIn("box1", r.stdout)
        r = gw.cli("sandbox", "delete", "box1", check=1)
        self.assertIn("box1", r.stderr)

    def _push(self, sid, batches, name=None):
        pb = self.pb

        def gen():
            for b in batches:
                yield pb.PushSandboxLogsRequest(sandbox_id=sid, logs=b)

        return self.gw.stub.PushSandboxLogs(gen(), timeout=20, metadata=self.gw.md(sid))

    def test_push_then_read_with_cli(self):
        gw, pb = self.gw, self.pb
        sid = create_sandbox(gw, "logbox")
        t = it.now_ms()
        lines = [
            pb.SandboxLogLine(sandbox_id=sid, timestamp_ms=t, level="OCSF", target="ocsf",
                              message="NET:OPEN [MED] DENIED curl(9) -> x.test:443 itest-med", source="sandbox"),
            pb.SandboxLogLine(sandbox_id=sid, timestamp_ms=t + 1, level="INFO", target="sup",
                              message="itest-info", source="sandbox", fields={"zz": "2", "aa": "1"}),
            pb.SandboxLogLine(sandbox_id=sid, timestamp_ms=t + 2, level="OCSF", target="ocsf",
                              message="FINDING:BLOCKED [HIGH] \"itest-high\"", source="sandbox"),
        ]
        resp = self._push(sid, [lines[:2], lines[2:]])
        self.assertEqual(resp.accepted, 3)
        r = gw.cli("sandbox", "logs", "logbox", check=0)
        out = r.stdout.splitlines()
        self.assertIn(it.fmt_line(t, "sandbox", "OCSF", "ocsf", lines[0].message), out)
        self.assertIn(it.fmt_line(t + 1, "sandbox", "INFO", "sup", "itest-info", {"aa": "1", "zz": "2"}), out)
        self.assertIn(it.fmt_line(t + 2, "sandbox", "OCSF", "ocsf", lines[2].message), out)
        # order: oldest first
        self.assertLess(out.index(it.fmt_line(t, "sandbox", "OCSF", "ocsf", lines[0].message)),
                        out.index(it.fmt_line(t + 2, "sandbox", "OCSF", "ocsf", lines[2].message)))
        # level filter ranks OCSF by its [SEV] tag
        r = gw.cli("sandbox", "logs", "logbox", "--level", "warn", check=0)
        self.assertIn("itest-med", r.stdout)
        self.assertIn("itest-high", r.stdout)
        self.assertNotIn("itest-info", r.stdout)
        r = gw.cli("sandbox", "logs", "logbox", "--level", "error", check=0)
        self.assertNotIn("itest-med", r.stdout)
        self.assertIn("itest-high", r.stdout)
        # source filter: pushed lines are always source=sandbox
        r = gw.cli("sandbox", "logs", "logbox", "--source", "gateway", check=0)
        self.assertNotIn("itest-", r.stdout)
        # -n and --since
        r = gw.cli("sandbox", "logs", "logbox", "--since", str(t + 2), check=0)
        self.assertIn("itest-high", r.stdout)
        self.assertNotIn("itest-med", r.stdout)
        # unknown sandbox: no credential exists, so a push is UNAUTHENTICATED
        # (Python); logs of an unknown name: exit 1 (CLI)
        with self.assertRaises(grpc.RpcError) as cm:
            gw.stub.PushSandboxLogs(iter([pb.PushSandboxLogsRequest(sandbox_id="no-such-id", logs=lines[:1])]),
                                    timeout=20)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        r = gw.cli("sandbox", "logs", "no-such-box", check=1)
        self.assertIn("no-such-box", r.stderr)

    def test_follow_prints_new_lines_and_stops_on_sigint(self):
        gw, pb = self.gw, self.pb
        sid = create_sandbox(gw, "followbox")
        p = subprocess.Popen(
            [it.CLI, "--gateway", gw.addr, "--color=never", "sandbox", "logs", "followbox", "--follow",
             "--source", "sandbox", "--level", "info"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        rd = it.LineReader(p.stdout)
        try:
            # The stream has no "ready" signal: push probe lines until one shows.
            def probe_seen():
                self._push(sid, [[pb.SandboxLogLine(timestamp_ms=it.now_ms(), level="INFO", target="t",
                                                    message="itest-probe")]])
                try:
                    rd.wait_for("itest-probe", timeout=0.3)
                    return True
                except AssertionError:
                    return False

            it.wait_until(probe_seen, 20, "follow stream to show a pushed line")
            t = it.now_ms()
            self._push(sid, [[pb.SandboxLogLine(timestamp_ms=t, level="OCSF", target="ocsf",
                                                message="NET:OPEN [INFO] ALLOWED itest-live")],
                             [pb.SandboxLogLine(timestamp_ms=t + 1, level="DEBUG", target="t",
                                                message="itest-debug-hidden")],
                             [pb.SandboxLogLine(timestamp_ms=t + 2, level="WARN", target="t",
                                                message="itest-after")]])
            line = rd.wait_for("itest-live")
            self.assertEqual(line, it.fmt_line(t, "sandbox", "OCSF", "ocsf", "NET:OPEN [INFO] ALLOWED itest-live"))
            rd.wait_for("itest-after")
            self.assertFalse(any("itest-debug-hidden" in l for l in rd.lines), rd.lines)
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(10), 0, p.stderr.read())
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()

    def test_bad_input_never_hurts_the_gateway(self):
        gw, pb = self.gw, self.pb
        ch = gw.channel
        raw = ch.unary_unary("/openshell.v1.OpenShell/GetSandboxPolicy")
        with self.assertRaises(grpc.RpcError) as cm:
            raw(b"\xff\xff\xff\xff\x0f\x01", timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        raw = ch.unary_unary("/openshell.v1.OpenShell/SetConfig")
        with self.assertRaises(grpc.RpcError) as cm:
            raw(b"\x0a\x40abc", timeout=10)  # length runs past the end
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        # unknown method: UNIMPLEMENTED at once, not at the deadline
        t0 = time.monotonic()
        with self.assertRaises(grpc.RpcError) as cm:
            ch.unary_unary("/openshell.v1.OpenShell/Nope")(b"", timeout=20)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        self.assertLess(time.monotonic() - t0, 10)
        # oversize: 5 MiB over a 4 MiB limit
        with self.assertRaises(grpc.RpcError) as cm:
            gw.stub.SetConfig(pb.SetConfigRequest(key="ocsf_logging_enabled", value="x" * (5 << 20)), timeout=20)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        # garbage inside a client stream
        sid = create_sandbox(gw, "badbox", policy=False)
        stream = ch.stream_unary("/openshell.v1.OpenShell/PushSandboxLogs")
        with self.assertRaises(grpc.RpcError) as cm:
            stream(iter([b"\xff\xff\xff\xff"]), timeout=10, metadata=gw.md(sid))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        # a pushing client killed mid-stream (SIGKILL): gateway keeps serving
        script = (
            "import sys, time\n"
            "sys.path.insert(0, %r)\n"
            "import grpc, sandbox_pb2 as pb, sandbox_pb2_grpc as pbg\n"
            "st = pbg.OpenShellStub(grpc.insecure_channel(%r))\n"
            "md = [(%r, %r)]\n"
            "def gen():\n"
            "    i = 0\n"
            "    while True:\n"
            "        i += 1\n"
            "        yield pb.PushSandboxLogsRequest(sandbox_id=%r, logs=[pb.SandboxLogLine("
            "timestamp_ms=int(time.time()*1000), level='INFO', target='t', message='itest-killed-%%d' %% i)])\n"
            "        time.sleep(0.01)\n"
            "st.PushSandboxLogs(gen(), metadata=md)\n"
            % (it._stub_dir, gw.addr, it.CRED_KEY, gw.credential(sid), sid))
        killed = subprocess.Popen([sys.executable, "-c", script])
        try:
            def some_stored():
                r = gw.cli("sandbox", "logs", "badbox", check=0)
                return "itest-killed-" in r.stdout
            it.wait_until(some_stored, 20, "lines from the doomed client")
        finally:
            killed.kill()
            killed.wait()
        # a follower killed mid-stream too
        f = subprocess.Popen([it.CLI, "--gateway", gw.addr, "sandbox", "logs", "badbox", "--follow"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        rd = it.LineReader(f.stdout)
        rd.wait_for("itest-killed-")
        f.kill()
        f.wait()
        f.stdout.close()
        self.assertTrue(gw.alive(), gw.log())
        self.assertGreaterEqual(revision_of(gw), 1)
        resp = self._push(sid, [[pb.SandboxLogLine(timestamp_ms=it.now_ms(), level="INFO", target="t",
                                                   message="itest-after-kill")]])
        self.assertEqual(resp.accepted, 1)
        r = gw.cli("sandbox", "logs", "badbox", check=0)
        self.assertIn("itest-after-kill", r.stdout)


class Bounds(unittest.TestCase):
    """Answers always fit one gRPC message and the CLI says what was left out
    (F3, F4); a python grpcio client decodes every answer."""

    @classmethod
    def setUpClass(cls):
        cls.pb, cls.pbg = it.stubs()
        cls.gw = it.Gateway(sandbox="/bin/true").start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.finish()  # exit 0, JSONL valid, no sanitizer report, dir removed

    def test_list_follows_pages(self):
        gw, pb = self.gw, self.pb
        argv = ["true"] + ["a" * 100000] * 15  # 1.5 MB per sandbox
        for i in range(3):
            gw.stub.CreateSandbox(pb.CreateSandboxRequest(name="fat%d" % i, command=argv), timeout=30)
        first = gw.stub.ListSandboxes(pb.ListSandboxesRequest(), timeout=30)
        self.assertNotEqual(first.next_page_token, "", "4.5 MB cannot be one page")
        r = gw.cli("sandbox", "list", check=0)
        for i in range(3):
            self.assertIn("fat%d" % i, r.stdout)
        with self.assertRaises(grpc.RpcError) as cm:
            gw.stub.ListSandboxes(pb.ListSandboxesRequest(page_token="x"), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        for i in range(3):
            gw.cli("sandbox", "delete", "fat%d" % i, check=0)

    def test_logs_say_what_did_not_fit(self):
        gw, pb = self.gw, self.pb
        resp = gw.stub.CreateSandbox(pb.CreateSandboxRequest(name="wide"), timeout=30)
        sid = resp.sandbox.id
        t = it.now_ms()
        big = "w" * 65536
        batches = [[pb.SandboxLogLine(timestamp_ms=t + 10 * b + i, level="INFO", target="t",
                                      message=big) for i in range(10)] for b in range(8)]
        pushed = gw.stub.PushSandboxLogs(
            iter([pb.PushSandboxLogsRequest(sandbox_id=sid, logs=x) for x in batches]), timeout=30,
            metadata=gw.md(sid))
        self.assertEqual(pushed.accepted, 80)
        got = gw.stub.GetSandboxLogs(pb.GetSandboxLogsRequest(name="wide", lines=80, sources=["sandbox"]),
                                     timeout=30)
        self.assertLess(len(got.logs), 80)
        self.assertEqual(got.truncated, 80 - len(got.logs))
        self.assertEqual(got.logs[-1].timestamp_ms, t + 79, "the newest lines are kept")
        r = gw.cli("sandbox", "logs", "wide", "-n", "80", "--source", "sandbox", check=0)
        self.assertIn("%d older lines" % got.truncated, r.stderr)
        self.assertEqual(sum(1 for ln in r.stdout.splitlines() if "wwww" in ln), len(got.logs))
        gw.cli("sandbox", "delete", "wide", check=0)


class Restart(unittest.TestCase):
    def test_revision_and_logs_survive_a_restart(self):
        pb, _ = it.stubs()
        gw = it.Gateway().start()
        try:
            sid = create_sandbox(gw, "persist")
            gw.cli("config", "set", "ocsf_logging_enabled", "on", check=0)
            rev = revision_of(gw)
            t = it.now_ms()
            gw.stub.PushSandboxLogs(iter([pb.PushSandboxLogsRequest(sandbox_id=sid, logs=[
                pb.SandboxLogLine(timestamp_ms=t, level="WARN", target="t", message="itest-persisted")])]),
                timeout=10, metadata=gw.md(sid))
        finally:
            rc = gw.stop()
        self.assertEqual(rc, 0, gw.log())
        gw2 = it.Gateway(data_dir=gw.data_dir)
        try:
            gw2.start()
            self.assertGreaterEqual(revision_of(gw2), rev, "revision never goes backwards")
            self.assertEqual(revision_of(gw2), rev)
            r = gw2.cli("config", "get", "ocsf_logging_enabled", check=0)
            self.assertIn("ocsf_logging_enabled = true", r.stdout)
            r = gw2.cli("sandbox", "logs", "persist", check=0)
            self.assertIn(it.fmt_line(t, "sandbox", "WARN", "t", "itest-persisted"), r.stdout.splitlines())
            # the adopted supervisor's credential still works after the restart
            resp = gw2.stub.GetSandboxPolicy(pb.GetSandboxPolicyRequest(sandbox_id=sid), timeout=10,
                                             metadata=gw2.md(sid))
            self.assertEqual(resp.sandbox_config.config_revision, rev)
            self.assertTrue(resp.sandbox_config.logging.ocsf_enabled)
        finally:
            try:
                gw2.kill_supervisors()
                self.assertEqual(gw2.stop(), 0, gw2.log())
            finally:
                gw.finish()  # the data dir both used: validated, scanned, removed


class CredentialImport(unittest.TestCase):
    """Issue 16: a data dir of a gateway that kept credential digests in
    <data-dir>/credentials/ is imported into the store once, at start."""

    def test_credential_files_are_imported_once(self):
        pb, _ = it.stubs()
        gw = it.Gateway().start()
        gw2 = None
        try:
            sid = create_sandbox(gw, "legacy", policy=False)
            cred = gw.credential(sid)
            digest = hashlib.sha256(cred.encode()).hexdigest()
            self.assertEqual(gw.stop(), 0, gw.log())
            db_path = os.path.join(gw.data_dir, "gateway.db")
            # what an earlier gateway left: the digest in a file, not in the store
            db = sqlite3.connect(db_path)
            with db:
                self.assertEqual(db.execute("SELECT digest FROM sandbox_credentials WHERE"
                                            " sandbox_id = ?", (sid,)).fetchone()[0], digest)
                db.execute("DELETE FROM sandbox_credentials")
            db.close()
            cdir = os.path.join(gw.data_dir, "credentials")
            os.mkdir(cdir, 0o700)
            for name, text in ((sid, digest + "\n"), ("gone-sandbox", "ab" * 32 + "\n"),
                               ("." + sid + ".new", "half")):
                fd = os.open(os.path.join(cdir, name), os.O_WRONLY | os.O_CREAT, 0o600)
                os.write(fd, text.encode())
                os.close(fd)
            gw2 = it.Gateway(data_dir=gw.data_dir).start()
            self.assertFalse(os.path.exists(cdir), "the directory is removed")
            db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
            rows = db.execute("SELECT sandbox_id, digest FROM sandbox_credentials").fetchall()
            db.close()
            self.assertEqual(rows, [(sid, digest)])
            # the adopted supervisor's credential works; a wrong one does not
            resp = gw2.stub.GetSandboxPolicy(pb.GetSandboxPolicyRequest(sandbox_id=sid), timeout=10,
                                             metadata=[(it.CRED_KEY, cred)])
            self.assertGreater(resp.sandbox_config.config_revision, 0)
            with self.assertRaises(grpc.RpcError) as cm:
                gw2.stub.GetSandboxPolicy(pb.GetSandboxPolicyRequest(sandbox_id=sid), timeout=10,
                                          metadata=[(it.CRED_KEY, "f" * 64)])
            self.assertEqual(cm.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
            logp = os.path.join(gw.data_dir, "openshell-gateway.log")
            want = "sandbox credentials moved into the store: 1 imported from %s, 2 skipped" % cdir
            def log_text():
                with open(logp, errors="replace") as f:
                    return f.read()
            it.wait_until(lambda: want in log_text(), 10, "the import event")
            self.assertIn("CONFIG:IMPORTED [INFO] " + want + "; directory removed", log_text())
            # once: a later start has nothing to import and says nothing
            self.assertEqual(gw2.stop(), 0, gw2.log())
            gw2.start()
            self.assertEqual(log_text().count("moved into the store"), 1)
            self.assertEqual(gw2.stop(), 0, gw2.log())
            # a credentials path that is not our own directory is never read:
            # the gateway refuses to start and says why
            os.symlink("/tmp", cdir)
            with self.assertRaises(AssertionError) as cm:
                gw2.start()
            self.assertIn("credentials: not a directory owned by uid %d" % os.geteuid(),
                          str(cm.exception))
            os.unlink(cdir)
            gw2.start()
        finally:
            try:
                if gw2 is not None:
                    gw2.kill_supervisors()
                    self.assertEqual(gw2.stop(), 0, gw2.log())
            finally:
                gw.finish()


class Unreachable(unittest.TestCase):
    def test_cli_exit_2_with_one_line(self):
        gw = it.Gateway().start()
        addr = gw.addr
        gw.finish()  # exit 0 after SIGTERM, dir checked and removed
        r = subprocess.run([it.CLI, "--gateway", addr, "sandbox", "list"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertTrue(r.stderr.startswith("openshell: cannot reach gateway at %s: " % addr), r.stderr)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        self.assertEqual(r.stdout, "")
        env = dict(os.environ, OPENSHELL_GATEWAY=addr)
        r = subprocess.run([it.CLI, "config", "get"], capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(r.returncode, 2)
        self.assertIn(addr, r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
