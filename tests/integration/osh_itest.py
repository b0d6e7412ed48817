"""Shared helpers for the gateway + CLI integration tests.

DESIGN: every test talks to real binaries: openshell-gateway started with a
fresh --data-dir on its default Unix socket (the address unix:PATH is read
from <data-dir>/gateway.addr, then readiness is a GetConfig call that
succeeds); its supervisors run behind tools/sandbox-tap.sh, which keeps a copy of
each sandbox's credential so a test can call as that sandbox's supervisor
(Gateway.md(sid)),
the openshell CLI run as a subprocess, and a second gRPC stack (Python
grpcio with stubs generated from proto/sandbox.proto at test time by
grpc_tools) for the calls the CLI does not make. Every wait polls a
condition with a deadline; nothing sleeps for a fixed time.

A Gateway without a data_dir works in an osh_testdir.TestDir
(tests/support/osh_testdir.py); Gateway.finish() stops it (exit 0 after
SIGTERM or the test fails), then validates every JSONL line under the data
dir, fails on a sanitizer report in gateway.stderr or any
supervisor.stderr (deleted sandboxes included), archives the logs for the
site census and removes the dir. kill_supervisors() deletes every sandbox
and fails unless each supervisor that was running exited 143 (SIGTERM
forwarded: a sanitizer abort would be 134). The generated stubs live in a
directory removed when the process exits.
"""

import atexit
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import queue

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import osh_testdir  # noqa: E402

BIN_DIR = os.environ.get("OSH_BIN_DIR", "")
PROTO_DIR = os.environ.get("OSH_PROTO_DIR", "")
CLI = os.path.join(BIN_DIR, "openshell")
GATEWAY = os.path.join(BIN_DIR, "openshell-gateway")
SANDBOX = os.path.join(BIN_DIR, "openshell-sandbox")
TAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "sandbox-tap.sh")
CRED_KEY = "x-openshell-sandbox-credential"

_stub_dir = None


def stubs():
    """Generate (once per process) and import the Python stubs."""
    global _stub_dir
    if _stub_dir is None:
        _stub_dir = tempfile.mkdtemp(prefix="osh-pystubs-")
        atexit.register(shutil.rmtree, _stub_dir, True)
        from grpc_tools import protoc  # python3-grpc-tools

        rc = protoc.main(
            [
                "grpc_tools.protoc",
                "-I" + PROTO_DIR,
                "--python_out=" + _stub_dir,
                "--grpc_python_out=" + _stub_dir,
                os.path.join(PROTO_DIR, "sandbox.proto"),
            ]
        )
        if rc != 0:
            raise RuntimeError("grpc_tools.protoc failed on sandbox.proto: %d" % rc)
        sys.path.insert(0, _stub_dir)
    import sandbox_pb2
    import sandbox_pb2_grpc

    return sandbox_pb2, sandbox_pb2_grpc


def wait_until(pred, timeout=20.0, what="condition"):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(0.02)




def now_ms():
    return int(time.time() * 1000)


class Gateway:
    """One openshell-gateway process on 127.0.0.1:<free port>."""

    def __init__(self, data_dir=None, extra=(), sandbox=None):
        # Owned: a TestDir this object finishes; else the caller's directory.
        self.tdir = osh_testdir.TestDir("gw") if data_dir is None else None
        self.data_dir = data_dir or self.tdir.path
        self.extra = list(extra)
        self.sandbox = sandbox or SANDBOX  # what the tap runs (e.g. /bin/true)
        self.proc = None
        self.addr = None
        self.log_path = os.path.join(self.data_dir, "gateway.stderr")
        self.channel = None
        self.stub = None

    def start(self):
        import grpc

        pb, pbg = stubs()
        addr_file = os.path.join(self.data_dir, "gateway.addr")
        if os.path.exists(addr_file):
            os.unlink(addr_file)
        self._log = open(self.log_path, "ab")
        self.tap_dir = os.path.join(self.data_dir, "taps")
        os.makedirs(self.tap_dir, mode=0o700, exist_ok=True)
        env = dict(os.environ, OSH_TAP_DIR=self.tap_dir, OSH_TAP_REAL=self.sandbox)
        self.proc = subprocess.Popen(
            [GATEWAY, "--data-dir", self.data_dir, "--sandbox-bin", TAP] + self.extra,
            stdout=self._log,
            stderr=self._log,
            env=env,
        )

        def addr_ready():
            if self.proc.poll() is not None:
                raise AssertionError("gateway exited early (%d): %s" % (self.proc.returncode, self.log()))
            try:
                with open(addr_file) as f:
                    a = f.read().strip()
                return a or None
            except FileNotFoundError:
                return None

        self.addr = wait_until(addr_ready, 20, "gateway.addr")
        self.channel = grpc.insecure_channel(self.addr)
        self.stub = pbg.OpenShellStub(self.channel)

        def serving():
            try:
                self.stub.GetConfig(pb.GetConfigRequest(), timeout=2)
                return True
            except grpc.RpcError:
                return False

        wait_until(serving, 20, "GetConfig to succeed")
        return self

    def credential(self, sid, timeout=20):
        """The credential the gateway gave sandbox sid's supervisor."""
        path = os.path.join(self.tap_dir, "boot." + sid)

        def read():
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("credential="):
                            return line.strip().split("=", 1)[1]
            except FileNotFoundError:
                return None
            return None

        return wait_until(read, timeout, "the credential of sandbox %s" % sid)

    def md(self, sid):
        """Call metadata of sandbox sid's supervisor."""
        return [(CRED_KEY, self.credential(sid))]

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit code."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("gateway did not stop within %ds" % timeout)
        self._log.close()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def cli(self, *args, timeout=30, check=None):
        r = subprocess.run(
            [CLI, "--gateway", self.addr, "--color=never"] + list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check is not None and r.returncode != check:
            raise AssertionError(
                "openshell %s: exit %d (want %d)\nstdout: %s\nstderr: %s"
                % (" ".join(args), r.returncode, check, r.stdout, r.stderr)
            )
        return r

    def kill_supervisors(self):
        """Delete every sandbox (stops the supervisors this gateway started).
        Every sandbox is deleted even when one fails; then raises
        AssertionError naming each failed delete and each supervisor that was
        running and did not exit 143 (128 + SIGTERM) when deleted (a
        supervisor adopted across a gateway restart has no exit code)."""
        if not self.alive():
            return
        pb, _ = stubs()
        problems = []
        lst = self.stub.ListSandboxes(pb.ListSandboxesRequest(), timeout=10)
        for s in lst.sandboxes:
            try:
                d = self.stub.DeleteSandbox(pb.DeleteSandboxRequest(sandbox_id=s.id), timeout=30)
            except Exception as e:  # noqa: BLE001 (reported below, never swallowed)
                problems.append("delete %s: %s" % (s.name, e))
                continue
            # An adopted supervisor (started by an earlier gateway run) has
            # no exit code to check: the gateway is not its parent.
            if (s.state == pb.SANDBOX_STATE_RUNNING and s.pid > 0
                    and d.sandbox.HasField("exit_code")):
                got = d.sandbox.exit_code
                if got != 128 + signal.SIGTERM:
                    problems.append("supervisor of %s (pid %d) stopped by delete: exit %r, "
                                    "want 143" % (s.name, s.pid, got))
        if problems:
            raise AssertionError("\n".join(problems) + "\n" + self.log()[-3000:])

    def finish(self):
        """Stop (exit 0 required), then validate, scan for sanitizer reports,
        archive and remove the owned data dir. Raises AssertionError."""
        rc = self.stop() if self.proc is not None else 0
        try:
            if self.tdir is not None:
                self.tdir.finish()
                self.tdir = None
        finally:
            if rc != 0:
                raise AssertionError("gateway exit %r after SIGTERM (want 0)" % (rc,))


class LineReader:
    """Collects a subprocess's stdout lines on a thread."""

    def __init__(self, stream):
        self.q = queue.Queue()
        self.lines = []
        self.t = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.t.start()

    def _run(self, stream):
        for line in stream:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def wait_for(self, needle, timeout=20):
        end = time.monotonic() + timeout
        for l in self.lines:
            if needle in l:
                return l
        while time.monotonic() < end:
            try:
                l = self.q.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            if l is None:
                break
            self.lines.append(l)
            if needle in l:
                return l
        raise AssertionError("no line containing %r; got %r" % (needle, self.lines))


def fmt_line(ts_ms, source, level, target, message, fields=None):
    """The CLI's expected rendering of one line (docs/cli.md)."""
    s = "[%d.%03d] [%7s] [%-5s] [%s] %s" % (ts_ms // 1000, ts_ms % 1000, source, level, target, message)
    for k in sorted(fields or {}):
        s += " %s=%s" % (k, fields[k])
    return s
