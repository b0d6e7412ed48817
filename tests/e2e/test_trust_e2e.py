#!/usr/bin/python3
"""End-to-end tests of gateway trust: who may talk to openshell-gateway.

DESIGN
Real binaries, real users and certificates made by the test itself:
- a non-root user and group are created with useradd/groupadd (the tests
  run as root in CI) and removed in tearDown; the CLI runs as that user
  through subprocess's user/group/extra_groups;
- a CA, a server certificate for 127.0.0.1, a client certificate and a
  client certificate from a foreign CA are made with the openssl CLI;
- fd exhaustion is the reliability report's F17 scenario against the real
  gateway under a low RLIMIT_NOFILE (soft = hard, so the gateway cannot
  raise it).
Every wait polls with a deadline. The test directory is the shared fixture
(tests/support/osh_testdir.py): every JSONL file is checked with
tools/ocsf-validate and every log kept for the site census. Network use is the gateway's Unix socket
and 127.0.0.1 only.
"""
import json
import os
import pwd
import grp
import re
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import osh_testdir  # noqa: E402

BIN = os.environ.get("OSH_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
SRC = os.environ.get("OSH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
GATEWAY = os.path.join(BIN, "openshell-gateway")
CLI = os.path.join(BIN, "openshell")
SANDBOX = os.path.join(BIN, "openshell-sandbox")
VALIDATE = os.path.join(SRC, "tools", "ocsf-validate")


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(0.02)


def read(path):
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def jsonl(path):
    return [json.loads(ln) for ln in read(path).splitlines() if ln.strip()]


class Gw:
    """One openshell-gateway on a fresh data dir."""

    def __init__(self, data_dir, extra=(), limit=None):
        self.data_dir = data_dir
        self.extra = list(extra)
        self.limit = limit
        self.proc = None

    def start(self, wait=True):
        addr_file = os.path.join(self.data_dir, "gateway.addr")
        env = dict(os.environ)
        env.pop("OPENSHELL_OCSF_LOGGING", None)
        self.err_path = os.path.join(self.data_dir, "gateway.stderr")
        self.err = open(self.err_path, "ab")
        lim = self.limit

        def pre():
            if lim is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (lim, lim))

        self.proc = subprocess.Popen([GATEWAY, "--data-dir", self.data_dir, "--sandbox-bin", SANDBOX]
                                     + self.extra, stdout=self.err, stderr=self.err, env=env,
                                     preexec_fn=pre, start_new_session=True)
        if wait:
            self.addr = wait_for(lambda: self._addr(addr_file), 15, "gateway.addr")
        return self

    def _addr(self, path):
        if self.proc.poll() is not None:
            raise AssertionError("gateway exited %d: %s" % (self.proc.returncode, read(self.err_path)))
        return read(path).strip()

    def tcp_addr(self):
        m = wait_for(lambda: re.search(r"and on TCP (\S+)", read(self.err_path)), 15, "TCP address")
        return m.group(1)

    def cli(self, *args, env=None, user=None, group=None, extra_groups=None, addr=None, timeout=30):
        e = dict(os.environ)
        e.pop("OPENSHELL_GATEWAY", None)
        e.update(env or {})
        return subprocess.run([CLI, "--gateway", addr or self.addr] + list(args), capture_output=True,
                              text=True, timeout=timeout, env=e, user=user, group=group,
                              extra_groups=extra_groups, cwd="/")

    def stop(self):
        rc = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=30)
        elif self.proc is not None:
            rc = self.proc.returncode
        if self.err:
            self.err.close()
            self.err = None
        return rc


class Trust(unittest.TestCase):
    def setUp(self):
        # A traversable parent: the socket's group members must reach the data dir.
        self.td = osh_testdir.TestDir("trust")
        self.tmp = self.td.path
        os.chmod(self.tmp, 0o755)
        self.gws = []
        self.users = []
        self.groups = []

    def tearDown(self):
        try:
            for g in self.gws:
                if g.proc is not None and g.proc.poll() is None:
                    r = g.cli("sandbox", "list")
                    for ln in r.stdout.splitlines()[1:]:
                        if ln.split():
                            g.cli("sandbox", "delete", ln.split()[0])
                rc = g.stop()
                self.assertIn(rc, (0, None), read(g.err_path))
        finally:
            for u in self.users:
                subprocess.run(["userdel", u], capture_output=True)
            for g in self.groups:
                subprocess.run(["groupdel", g], capture_output=True)
            self.td.finish()  # validates every JSONL file, keeps the logs, removes the dir

    def gateway(self, extra=(), limit=None, wait=True):
        d = os.path.join(self.tmp, "gw%d" % len(self.gws))
        os.makedirs(d)
        g = Gw(d, extra, limit)
        self.gws.append(g)
        return g.start(wait)

    def make_user_and_group(self):
        tag = "%d%d" % (os.getpid() % 10000, len(self.users))
        grp_name, user = "osht%s" % tag, "oshu%s" % tag
        subprocess.run(["groupadd", grp_name], check=True, capture_output=True)
        self.groups.append(grp_name)
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "-N", user],
                       check=True, capture_output=True)
        self.users.append(user)
        return user, grp_name

    # ------------------------------------------------------------------ socket

    def test_socket_refuses_other_users_and_admits_the_group(self):
        user, group = self.make_user_and_group()
        g = self.gateway(["--socket-group", group, "--ocsf-logging", "true"])
        self.assertTrue(g.addr.startswith("unix:/"), g.addr)
        sock = g.addr[5:]
        st = os.stat(sock)
        self.assertEqual(st.st_mode & 0o777, 0o660)
        self.assertEqual(st.st_gid, grp.getgrnam(group).gr_gid)
        uid = pwd.getpwnam(user).pw_uid
        ugid = pwd.getpwnam(user).pw_gid
        # not in the group: the socket refuses `sandbox create`
        r = g.cli("sandbox", "create", "--name", "nope", "--", "true", user=uid, group=ugid, extra_groups=[])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("cannot reach gateway", r.stderr)
        r = g.cli("sandbox", "list")
        self.assertNotIn("nope", r.stdout)
        # with the group: it works
        r = g.cli("sandbox", "create", "--name", "grp", "--", "true", user=uid, group=ugid,
                  extra_groups=[group])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("sandbox grp created", r.stdout)
        # defence in depth: even if the socket were opened to everyone, the
        # kernel-named peer is refused by the gateway itself, with an event
        os.chmod(sock, 0o666)
        os.chmod(g.data_dir, 0o755)
        r = g.cli("config", "get", user=uid, group=ugid, extra_groups=[])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        log = os.path.join(g.data_dir, "openshell-gateway-ocsf.log")
        ev = wait_for(lambda: [e for e in jsonl(log) if e["metadata"].get("event_code") == "GW_AUTH_REFUSED"
                               and ("uid %d" % uid) in e["unmapped"]["principal"]], 10, "GW_AUTH_REFUSED")
        self.assertEqual(ev[0]["class_uid"], 4001)
        self.assertEqual(ev[0]["activity_id"], 5)  # Refuse

    # --------------------------------------------------------------------- TLS

    def make_certs(self):
        d = os.path.join(self.tmp, "pki")
        os.makedirs(d)

        def ossl(*a):
            subprocess.run(["openssl"] + list(a), check=True, capture_output=True, cwd=d)

        for ca in ("ca", "evil"):
            ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=%s" % ca,
                 "-keyout", ca + ".key", "-out", ca + ".pem")
        with open(os.path.join(d, "san.cnf"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        for name, ca, ext in (("server", "ca", True), ("client", "ca", False), ("stranger", "evil", False)):
            ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name,
                 "-keyout", name + ".key", "-out", name + ".csr")
            args = ["x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                    "-CAcreateserial", "-days", "2", "-out", name + ".pem"]
            if ext:
                args += ["-extfile", "san.cnf"]
            ossl(*args)
        return d

    def test_tcp_needs_tls_with_a_client_certificate(self):
        pki = self.make_certs()
        p = lambda n: os.path.join(pki, n)  # noqa: E731
        # plain TCP without --insecure-tcp: refused at start, exit 2, clear message
        d = os.path.join(self.tmp, "plain")
        os.makedirs(d)
        r = subprocess.run([GATEWAY, "--data-dir", d, "--listen", "127.0.0.1:0"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--insecure-tcp", r.stderr)
        g = self.gateway(["--listen", "127.0.0.1:0", "--tls-cert", p("server.pem"), "--tls-key",
                          p("server.key"), "--client-ca", p("ca.pem"), "--ocsf-logging", "true"])
        tcp = g.tcp_addr()
        self.assertTrue(tcp.startswith("127.0.0.1:"), tcp)
        good = {"OPENSHELL_TLS_CA": p("ca.pem"), "OPENSHELL_TLS_CERT": p("client.pem"),
                "OPENSHELL_TLS_KEY": p("client.key")}
        r = g.cli("config", "get", env=good, addr=tcp)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("config_revision", r.stdout)
        r = g.cli("sandbox", "create", "--name", "tls", "--", "true", env=good, addr=tcp)
        self.assertEqual(r.returncode, 0, r.stderr)
        # no client certificate: refused in the handshake
        r = g.cli("config", "get", env={"OPENSHELL_TLS_CA": p("ca.pem")}, addr=tcp, timeout=60)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        # a certificate from another CA: refused
        bad = dict(good, OPENSHELL_TLS_CERT=p("stranger.pem"), OPENSHELL_TLS_KEY=p("stranger.key"))
        r = g.cli("config", "get", env=bad, addr=tcp, timeout=60)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        # plaintext against the TLS port: refused
        r = g.cli("config", "get", addr=tcp, timeout=60)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        codes = [e["metadata"]["event_code"] for e in jsonl(os.path.join(g.data_dir, "openshell-gateway-ocsf.log"))]
        self.assertIn("GW_TLS_TCP", codes)
        self.assertNotIn("GW_INSECURE_TCP", codes)

    def test_insecure_tcp_warns_at_every_start(self):
        g = self.gateway(["--listen", "127.0.0.1:0", "--insecure-tcp", "--ocsf-logging", "true"])
        tcp = g.tcp_addr()
        r = g.cli("config", "get", addr=tcp)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(g.stop(), 0)
        g.start()
        g.tcp_addr()
        log = os.path.join(g.data_dir, "openshell-gateway-ocsf.log")
        warn = wait_for(lambda: [e for e in jsonl(log) if e["metadata"]["event_code"] == "GW_INSECURE_TCP"]
                        if len([e for e in jsonl(log) if e["metadata"]["event_code"] == "GW_INSECURE_TCP"]) >= 2
                        else None, 10, "two GW_INSECURE_TCP events")
        self.assertEqual(warn[0]["severity_id"], 4)  # High
        self.assertIn("no authentication", warn[0]["message"])

    # ---------------------------------------------------------- supervisor

    def test_supervisor_argv_and_agent_env_carry_no_secret(self):
        g = self.gateway()
        r = g.cli("sandbox", "create", "--name", "peek", "--", "sh", "-c",
                  "cat /proc/$PPID/cmdline | tr '\\0' ' '; echo; env; ls /proc/self/fd; sleep 30")
        self.assertEqual(r.returncode, 0, r.stderr)
        # the agent's output: <sandbox>/logs/agent.log, "<ts> stdout <text>" per line
        out = os.path.join(g.data_dir, "sandboxes", "peek", "logs", "agent.log")
        raw = wait_for(lambda: read(out) if "PATH=" in read(out) else None, 15, "the agent's output")
        text = "\n".join(ln.split(" ", 2)[2] for ln in raw.splitlines() if ln.count(" ") >= 2)
        cmdline = text.splitlines()[0]
        self.assertIn("--bootstrap-fd 3", cmdline)
        self.assertNotIn("--gateway", cmdline)
        self.assertNotIn(g.addr, cmdline)
        self.assertNotIn("gateway.sock", text)
        # the gateway keeps the credential's SHA-256 in its store, no files
        self.assertFalse(os.path.exists(os.path.join(g.data_dir, "credentials")))
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(g.data_dir, "gateway.db"), uri=True)
        try:
            rows = db.execute("SELECT digest FROM sandbox_credentials").fetchall()
        finally:
            db.close()
        self.assertEqual(len(rows), 1)
        self.assertRegex(rows[0][0], r"^[0-9a-f]{64}$")
        self.assertNotIn("credential", text.lower())
        # the agent's fds: 0, 1, 2 and ls's own directory fd, no bootstrap pipe left
        fds = sorted(int(x) for x in text.splitlines() if x.strip().isdigit())
        self.assertLessEqual(len(fds), 4, fds)
        # the supervisor's lines arrive (it authenticated with its credential)
        wait_for(lambda: "PROC:LAUNCH" in g.cli("sandbox", "logs", "peek").stdout, 15, "pushed lines")

    def test_gateway_events_are_schema_valid_and_complete(self):
        g = self.gateway(["--ocsf-logging", "true"])
        self.assertEqual(g.cli("sandbox", "create", "--name", "ev", "--", "true").returncode, 0)
        self.assertEqual(g.cli("config", "set", "ocsf_logging_enabled", "true").returncode, 0)
        wait_for(lambda: "exited" in g.cli("sandbox", "list").stdout or "EXITED" in g.cli("sandbox", "list").stdout
                 or "exited" in g.cli("sandbox", "list").stdout.lower(), 15, "the sandbox to exit")
        self.assertEqual(g.cli("sandbox", "delete", "ev").returncode, 0)
        # a client without a credential pushing: refused 6 times -> 5 events + a finding
        import grpc
        ch = grpc.insecure_channel(g.addr)
        push = ch.stream_unary("/openshell.v1.OpenShell/PushSandboxLogs")
        for _ in range(6):
            with self.assertRaises(grpc.RpcError) as cm:
                push(iter([b"\x0a\x01x"]), timeout=10)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        ch.close()
        self.assertEqual(g.stop(), 0)
        # off again from the file while stopped, then restart: the change is
        # recorded as the last JSONL record of the run
        g.start()
        self.assertEqual(g.cli("config", "set", "ocsf_logging_enabled", "false").returncode, 0)
        log = os.path.join(g.data_dir, "openshell-gateway-ocsf.log")
        wait_for(lambda: any(e["metadata"]["event_code"] == "GW_CONFIG_CHANGE"
                             and e["unmapped"]["new_value"] == "false" for e in jsonl(log)), 10, "config off")
        self.assertEqual(g.stop(), 0)
        evs = jsonl(log)
        codes = [e["metadata"]["event_code"] for e in evs]
        for c in ("GW_START", "GW_SANDBOX_CREATE", "GW_SANDBOX_EXIT", "GW_SANDBOX_DELETE", "GW_STOP",
                  "GW_CONFIG_CHANGE", "GW_AUTH_REFUSED", "GW_AUTH_REPEATED"):
            self.assertIn(c, codes)
        self.assertEqual(codes.count("GW_AUTH_REFUSED"), 5, "at most 5 per principal per minute")
        finding = [e for e in evs if e["metadata"]["event_code"] == "GW_AUTH_REPEATED"][0]
        self.assertEqual(finding["class_uid"], 2004)
        self.assertEqual(finding["severity_id"], 4)
        self.assertEqual(codes[-1], "GW_CONFIG_CHANGE", "JSONL off: the change is the last record")
        create = [e for e in evs if e["metadata"]["event_code"] == "GW_SANDBOX_CREATE"][0]
        self.assertEqual(create["unmapped"]["sandbox_name"], "ev")
        self.assertRegex(create["unmapped"]["requested_by"], r"^uid 0 pid \d+$")
        r = subprocess.run(["/usr/bin/python3", VALIDATE, log], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        plain = read(os.path.join(g.data_dir, "openshell-gateway.log"))
        self.assertIn("OCSF LIFECYCLE:START", plain)

    def test_oversized_or_malformed_credentials_are_refused(self):
        import grpc
        g = self.gateway(["--ocsf-logging", "true"])
        ch = grpc.insecure_channel(g.addr)
        push = ch.stream_unary("/openshell.v1.OpenShell/PushSandboxLogs")
        key = "x-openshell-sandbox-credential"
        # over the 8 KiB metadata cap: refused by gRPC before any handler
        with self.assertRaises(grpc.RpcError) as cm:
            push(iter([b"\x0a\x01x"]), timeout=10, metadata=[(key, "a" * 20000)])
        self.assertIn(cm.exception.code(), (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE))
        ch.close()
        ch = grpc.insecure_channel(g.addr)
        push = ch.stream_unary("/openshell.v1.OpenShell/PushSandboxLogs")
        # not 64 hex digits: UNAUTHENTICATED with an event
        with self.assertRaises(grpc.RpcError) as cm:
            push(iter([b"\x0a\x01x"]), timeout=10, metadata=[(key, "A" * 64)])
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("malformed", cm.exception.details())
        ch.close()
        self.assertEqual(g.cli("config", "get").returncode, 0, "the gateway keeps serving")
        log = os.path.join(g.data_dir, "openshell-gateway-ocsf.log")
        wait_for(lambda: any(e["metadata"]["event_code"] == "GW_AUTH_REFUSED" and "malformed" in e["message"]
                             for e in jsonl(log)), 10, "the refusal event")

    # ------------------------------------------------------------------ F17

    def test_listener_survives_fd_exhaustion(self):
        g = self.gateway(["--ocsf-logging", "true"], limit=64)
        sock = g.addr[5:]
        self.assertEqual(g.cli("config", "get").returncode, 0)
        held = []
        try:
            for _ in range(200):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(2)
                try:
                    s.connect(sock)
                except OSError:
                    s.close()
                    break
                held.append(s)
            # the gateway refused what it could not serve and keeps running
            wait_for(lambda: "connections refused" in read(os.path.join(g.data_dir, "openshell-gateway.log")),
                     10, "a GW_LISTEN_LIMIT event")
        finally:
            for s in held:
                s.close()
        self.assertIsNone(g.proc.poll(), read(g.err_path))
        wait_for(lambda: g.cli("config", "get", timeout=20).returncode == 0, 30,
                 "config get to work again after fd exhaustion")


if __name__ == "__main__":
    unittest.main(verbosity=2)
