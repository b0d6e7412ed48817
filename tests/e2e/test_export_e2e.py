#!/usr/bin/python3
"""End-to-end: the gateway's OCSF export to SIEM destinations (issue 17).

DESIGN
Real binaries, real receivers on loopback ports this test opens:
- Debian's rsyslogd, started by the test with its own config file in the
  test directory (imtcp on 127.0.0.1:<free port>, omfile), receives the
  syslog destination (RFC 5424, octet counting). A sandbox emits a heartbeat
  event every 20 ms; the gateway is restarted (SIGTERM, started again on the
  same data dir: supervisors stay, adopted) and rsyslog is stopped for
  OUTAGE_S seconds (OSH_EXPORT_OUTAGE_S, 30 in CI) and started again on the
  same port. Every event of the run (the sandbox's, as stored by the gateway
  with their JSON, and the gateway's own from its JSONL file) must then be
  in rsyslog's file, by metadata.uid (at least once: a uid may come twice,
  counted and printed), and the outage must be reported (EXPORT_DELIVERY_
  FAILED / RESUMED). The same run has a file destination (rotating at
  64 KiB: rotated files exist, every line of every file is valid OCSF) and a
  syslog destination to a closed port with the smallest queue, whose bound
  must drop and report (EXPORT_QUEUE_DROPPED). `openshell logs NAME -o json`
  must print the events, each valid OCSF (tools/ocsf-validate).
- A python http.server receiver answers 429, then 503, then 200: the same
  gzip'd NDJSON batch arrives three times with the bearer token, later
  batches carry several events; a Splunk HEC destination gets HEC envelopes.
- A TLS syslog receiver (python ssl, a CA and a 127.0.0.1 certificate made
  with openssl in the test dir) gets octet-counted frames; a destination
  trusting another CA reports the certificate failure and delivers nothing.
- A malformed export section refuses the gateway start (file:line:key) and,
  on reload (SIGHUP), is refused with the running destinations kept.
- Issue 17's bad input (root): the queue directory on a 256 KiB tmpfs the
  test mounts (unmounted in tearDown, always) fills up while the HTTP
  receiver answers 503: ingestion and GetSandboxPolicy carry on, the events
  that could not be spooled are reported (EXPORT_QUEUE_DROPPED write_failed)
  and delivery resumes once the receiver drains the queue. Receivers that
  accept and stop reading (syslog with a 4 KiB receive buffer, HTTP): the
  GetSandboxPolicy / PushSandboxLogs latencies (osh-rpc-bench, bounded
  loops, as the sandbox's supervisor through tools/sandbox-tap.sh) stay
  within a generous bound of a baseline measured in the same test before
  the stall, both destinations report the failure, and every queued event
  arrives once the receivers read again. An HTTPS destination whose
  ca_file trusts the test CA gets its batches; one trusting another CA
  reports the certificate failure, delivers nothing and keeps its queue.
Every wait polls a condition with a deadline; OUTAGE_S is the scenario's
outage length, not a synchronisation sleep.
"""
import gzip
import http.server
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import osh_testdir  # noqa: E402
from test_supervisor_e2e import (CLI, GATEWAY, SANDBOX, VALIDATE, pid_alive, read,  # noqa: E402
                                 wait_for)

OUTAGE_S = float(os.environ.get("OSH_EXPORT_OUTAGE_S", "30"))
SOURCE = os.environ.get("OSH_SOURCE_DIR",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RPC_BENCH = os.path.join(os.path.dirname(GATEWAY), "osh-rpc-bench")
RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
UID_SD = re.compile(r'\[ocsf@32473 uid="([^"]+)" class_uid="(\d+)" severity_id="(\d+)"\]')


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def uids_of_jsonl(text):
    out = []
    for ln in text.splitlines():
        if ln.strip():
            out.append(json.loads(ln)["metadata"]["uid"])
    return out


def make_ca(d):
    """A test CA, a server certificate for 127.0.0.1 signed by it, and an
    unrelated CA (openssl CLI) in directory d."""
    def ossl(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=t-ca",
         "-keyout", d + "/ca.key", "-out", d + "/ca.pem")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", d + "/srv.key", "-out", d + "/srv.csr")
    with open(d + "/ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", d + "/srv.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key",
         "-CAcreateserial", "-days", "1", "-extfile", d + "/ext", "-out", d + "/srv.pem")
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=other-ca", "-keyout", d + "/other.key", "-out", d + "/other.pem")


class Sink(http.server.BaseHTTPRequestHandler):
    """NDJSON receiver: records the uids of accepted batches per path.
    Sink.status: what every POST gets (503 while the test wants a queue).
    Sink.reading cleared: a request is not read nor answered until it is
    set again (a receiver that accepted and stalled)."""
    status = 200
    reading = threading.Event()
    got = {}
    lock = threading.Lock()
    protocol_version = "HTTP/1.1"

    def handle_one_request(self):
        while not Sink.reading.wait(0.2):
            if getattr(self.server, "closing", False):
                self.close_connection = True
                return
        super().handle_one_request()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status = Sink.status
        if status == 200:
            with Sink.lock:
                for ln in body.decode().splitlines():
                    u = json.loads(ln)["metadata"]["uid"]
                    Sink.got.setdefault(self.path, {})
                    Sink.got[self.path][u] = Sink.got[self.path].get(u, 0) + 1
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

    @staticmethod
    def uids(path):
        with Sink.lock:
            return set(Sink.got.get(path, {}))


class QuietHTTPServer(http.server.ThreadingHTTPServer):
    closing = False
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a stalled request's client gave up: expected here


class StallSyslog:
    """A syslog receiver on loopback with a 4 KiB receive buffer whose
    connection threads read only while `reading` is set: cleared, it
    accepted and does not read (its kernel stops acknowledging)."""

    def __init__(self):
        self.reading = threading.Event()
        self.reading.set()
        self.stop = threading.Event()
        self.got = {}
        self.lock = threading.Lock()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.th = threading.Thread(target=self.serve, daemon=True)
        self.th.start()

    def serve(self):
        while not self.stop.is_set():
            try:
                c, _ = self.lsock.accept()
            except OSError:
                continue
            threading.Thread(target=self.conn, args=(c,), daemon=True).start()

    def conn(self, c):
        buf = b""
        c.settimeout(0.2)
        while not self.stop.is_set():
            if not self.reading.wait(0.2):
                continue
            try:
                chunk = c.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            while b" " in buf:  # octet counting: LEN SP FRAME
                n, rest = buf.split(b" ", 1)
                if len(rest) < int(n):
                    break
                m = UID_SD.search(rest[:int(n)].decode(errors="replace"))
                if m:
                    with self.lock:
                        self.got[m.group(1)] = self.got.get(m.group(1), 0) + 1
                buf = rest[int(n):]
        c.close()

    def uids(self):
        with self.lock:
            return set(self.got)

    def close(self):
        self.stop.set()
        self.th.join(timeout=5)
        self.lsock.close()


def bench_figures(out):
    """`name value unit` lines of osh-rpc-bench -> {name: float}."""
    fig = {}
    for ln in out.splitlines():
        p = ln.split()
        if len(p) >= 2:
            try:
                fig[p[0]] = float(p[1])
            except ValueError:
                pass
    return fig


class Rsyslog:
    """rsyslogd as an unprivileged-port test receiver: its own config, pid
    file and work dir in the test directory; never the system service."""

    def __init__(self, root, port):
        self.root = root
        self.port = port
        self.out = os.path.join(root, "received.syslog")
        self.conf = os.path.join(root, "rsyslog.conf")
        self.work = os.path.join(root, "rsyslog-work")
        os.makedirs(self.work, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(
                'global(workDirectory="%s" maxMessageSize="256k")\n'
                'module(load="imtcp")\n'
                'template(name="sd" type="string" string="%%structured-data%% %%msg%%\\n")\n'
                'input(type="imtcp" address="127.0.0.1" port="%d")\n'
                'action(type="omfile" file="%s" template="sd")\n'
                % (self.work, port, self.out))
        self.proc = None

    def start(self):
        with open(os.path.join(self.root, "rsyslogd.stderr"), "a") as err:
            self.proc = subprocess.Popen(
                [RSYSLOGD, "-n", "-f", self.conf, "-i", os.path.join(self.root, "rsyslogd.pid")],
                stdout=err, stderr=err, start_new_session=True)
        wait_for(lambda: port_open(self.port) or self.proc.poll() is not None, 15,
                 "rsyslogd to listen on %d" % self.port)
        self.assert_running()

    def assert_running(self):
        if self.proc.poll() is not None:
            raise AssertionError("rsyslogd exited %s: %s" % (
                self.proc.returncode, read(os.path.join(self.root, "rsyslogd.stderr"))[-2000:]))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None

    def received(self):
        """uid -> times received."""
        got = {}
        for ln in read(self.out).splitlines():
            m = UID_SD.search(ln)
            if m:
                got[m.group(1)] = got.get(m.group(1), 0) + 1
        return got


class Receiver(http.server.BaseHTTPRequestHandler):
    """Records every POST; answers the scripted statuses, then 200."""
    script = []
    requests = []
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Receiver.lock:
            status = Receiver.script.pop(0) if Receiver.script else 200
            Receiver.requests.append({"path": self.path, "headers": dict(self.headers),
                                      "body": body, "status": status})
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class ExportE2E(unittest.TestCase):
    def setUp(self):
        self.dir = osh_testdir.TestDir("export-e2e")
        self.tmp = self.dir.path
        self.data = os.path.join(self.tmp, "data")
        os.makedirs(self.data)
        self.yaml = os.path.join(self.data, "gateway.yaml")
        self.gw = None
        self.rsyslog = None
        self.httpd = None
        self.stall = None
        self.mounts = []

    def tearDown(self):
        try:
            if self.addr_ok():
                subprocess.run([CLI, "--gateway", self.addr, "sandbox", "delete", "--all"],
                               capture_output=True, timeout=30)
        finally:
            self.stop_gateway()
            if self.rsyslog:
                self.rsyslog.stop()
            if self.httpd:
                self.httpd.closing = True
                Sink.reading.set()
                self.httpd.shutdown()
                self.httpd.server_close()
            if self.stall:
                self.stall.close()
            for m in self.mounts:  # always, also after a failure
                r = subprocess.run(["umount", m], capture_output=True, text=True)
                if r.returncode != 0:
                    subprocess.run(["umount", "-l", m], capture_output=True)
                os.rmdir(m)
            self.dir.finish()

    def addr_ok(self):
        return self.gw is not None and self.gw.poll() is None

    def start_gateway(self, expect_fail=False, tap_dir=None):
        """tap_dir: supervisors behind tools/sandbox-tap.sh, which keeps
        each one's credential in tap_dir for osh-rpc-bench."""
        addr_file = os.path.join(self.data, "gateway.addr")
        if os.path.exists(addr_file):
            os.unlink(addr_file)
        env = dict(os.environ, OPENSHELL_POLL_INTERVAL="200ms", OPENSHELL_HEARTBEAT="20ms")
        sandbox_bin = SANDBOX
        if tap_dir:
            env.update(OSH_TAP_DIR=tap_dir, OSH_TAP_REAL=SANDBOX)
            sandbox_bin = os.path.join(SOURCE, "tools", "sandbox-tap.sh")
        err = open(os.path.join(self.data, "gateway.stderr"), "a")
        self.gw = subprocess.Popen(
            [GATEWAY, "--data-dir", self.data, "--config", self.yaml, "--sandbox-bin", sandbox_bin,
             "--log-retention", "1000000"],
            stdout=err, stderr=err, env=env, start_new_session=True)
        err.close()
        if expect_fail:
            rc = self.gw.wait(timeout=20)
            self.gw = None
            return rc
        self.addr = wait_for(lambda: read(addr_file).strip(), 15, "gateway.addr")
        return 0

    def stop_gateway(self):
        if self.gw and self.gw.poll() is None:
            self.gw.terminate()
            self.gw.wait(timeout=30)
        self.gw = None

    def cli(self, *args):
        r = subprocess.run([CLI, "--gateway", self.addr] + list(args), capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, "openshell %s: %s%s" % (args, r.stdout, r.stderr))
        return r.stdout

    def write_yaml(self, text):
        with open(self.yaml, "w") as f:
            f.write(text)

    def stored_uids(self):
        """metadata.uid of every event the gateway stored with its JSON."""
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.data, "gateway.db"), uri=True)
        try:
            rows = db.execute("SELECT ocsf_json FROM log_lines WHERE ocsf_json IS NOT NULL"
                              ).fetchall()
        finally:
            db.close()
        return [json.loads(r[0])["metadata"]["uid"] for r in rows]

    def gateway_uids(self):
        return uids_of_jsonl(read(os.path.join(self.data, "openshell-gateway-ocsf.log")))

    def refused_uids(self, version):
        """uids a conversion refused: none are expected from this run (the
        refusal path has its unit test); kept so a refusal fails by name."""
        glog = read(os.path.join(self.data, "openshell-gateway.log"))
        if "refused by the conversion to OCSF %s" % version in glog:
            raise AssertionError("conversion to %s refused events of the run:\n%s" % (
                version, "\n".join(ln for ln in glog.splitlines() if "refused by the conv" in ln)))
        return set()

    def validate(self, path, version="auto"):
        r = subprocess.run(["/usr/bin/python3", VALIDATE, "--version", version, path],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, "%s: %s%s" % (path, r.stdout[-3000:], r.stderr))
        m = re.search(r"(\d+) lines, (\d+) valid", r.stdout)
        return int(m.group(2))

    # ------------------------------------------------------------- syslog
    def test_syslog_restart_outage_file_rotation_and_queue_bound(self):
        port = free_port()
        closed = free_port()
        self.rsyslog = Rsyslog(self.tmp, port)
        self.rsyslog.start()
        out_file = os.path.join(self.tmp, "export", "events.jsonl")
        os.makedirs(os.path.dirname(out_file))
        self.write_yaml(
            "export:\n"
            "  destinations:\n"
            "    - name: siem\n"
            "      type: syslog\n"
            "      address: 127.0.0.1:%d\n"
            "      retry_min_ms: 200\n"
            "      retry_max_ms: 1000\n"
            "      timeout_ms: 2000\n"
            "    - name: local\n"
            "      type: file\n"
            "      path: %s\n"
            "      rotate_bytes: 64KiB\n"
            "      keep: 100\n"
            "    - name: v110\n"
            "      type: file\n"
            "      path: %s/v1.1.0.jsonl\n"
            "      schema_version: 1.1.0\n"
            "    - name: v130\n"
            "      type: file\n"
            "      path: %s/v1.3.0.jsonl\n"
            "      schema_version: 1.3.0\n"
            "    - name: v150\n"
            "      type: file\n"
            "      path: %s/v1.5.0.jsonl\n"
            "      schema_version: 1.5.0\n"
            "    - name: nowhere\n"
            "      type: syslog\n"
            "      address: 127.0.0.1:%d\n"
            "      queue_max_bytes: 64KiB\n"
            "      retry_min_ms: 200\n"
            "      retry_max_ms: 400\n"
            "      filter:\n"
            "        classes: [0, 1007]\n"
            "        min_severity: informational\n"
            % (port, out_file, self.tmp, self.tmp, self.tmp, closed))
        self.start_gateway()
        self.cli("sandbox", "create", "--name", "ex1", "--", "sleep", "600")
        wait_for(lambda: len(self.rsyslog.received()) > 50, 30, "first events in rsyslog")

        # 1. gateway restart: the queue on disk carries on
        self.stop_gateway()
        self.start_gateway()
        before = len(self.rsyslog.received())
        wait_for(lambda: len(self.rsyslog.received()) > before + 20, 30,
                 "events after the gateway restart")

        # 2. receiver outage: rsyslog really stopped, the gateway queues
        self.rsyslog.stop()
        t0 = time.monotonic()
        glog = os.path.join(self.data, "openshell-gateway.log")
        wait_for(lambda: "export siem: delivery failing" in read(glog), 30,
                 "EXPORT_DELIVERY_FAILED for siem")
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - t0)))  # the outage itself
        self.rsyslog.start()
        wait_for(lambda: "export siem: delivery resumed" in read(glog), 30,
                 "EXPORT_DELIVERY_RESUMED for siem")
        wait_for(lambda: "export nowhere: " in read(glog) and
                 re.search(r"export nowhere: \d+ events dropped", read(glog)), 30,
                 "EXPORT_QUEUE_DROPPED for the bounded queue")

        # 3. the supervisor ends (SIGTERM flushes its push; `sandbox delete`
        # would drop its stored lines); every event of the run reaches rsyslog
        row = [ln.split() for ln in self.cli("sandbox", "list").splitlines()[1:]
               if ln.split() and ln.split()[0] == "ex1"][0]
        os.kill(int(row[3]), signal.SIGTERM)
        wait_for(lambda: not pid_alive(int(row[3])), 20, "the supervisor to exit")

        def missing():
            want = set(self.stored_uids()) | set(self.gateway_uids())
            got = self.rsyslog.received()
            return want - set(got), want, got
        try:
            wait_for(lambda: not missing()[0], 60, "every event in rsyslog")
        finally:
            lost, want, got = missing()
            print("\nexport syslog: %d events expected, %d distinct received, %d duplicates, "
                  "%d missing" % (len(want), len(got), sum(got.values()) - len(got),
                                  len(lost)), file=sys.stderr)
            for ln in read(os.path.join(self.data, "openshell-gateway-ocsf.log")).splitlines():
                if any(u in ln for u in lost):
                    print("missing gateway event: %s" % ln[:600], file=sys.stderr)
            if lost:
                print("missing: %s" % sorted(lost), file=sys.stderr)
                print(read(os.path.join(self.data, "openshell-gateway.log"))[-3000:],
                      file=sys.stderr)
        self.assertGreater(len(want), 100)
        self.assertEqual(lost, set())

        # file destination: rotated, every line valid OCSF, every event there
        rotated = [f for f in os.listdir(os.path.dirname(out_file)) if f.startswith("events.jsonl.")]
        self.assertTrue(rotated, "the 64 KiB file destination never rotated")
        wait_for(lambda: set(self.stored_uids()) <= set(
            sum((uids_of_jsonl(read(os.path.join(os.path.dirname(out_file), f)))
                 for f in os.listdir(os.path.dirname(out_file))), [])), 30,
            "every stored event in the file destination")
        # the gateway still runs: a rotation may move events.jsonl away
        # between the listing and the validation (it is back at the next
        # batch); validity, not completeness (checked above), is asked here
        n_valid = 0
        for f in os.listdir(os.path.dirname(out_file)):
            try:
                with open(os.path.join(os.path.dirname(out_file), f), "rb") as fh:
                    text = fh.read()
            except FileNotFoundError:
                continue
            snap = os.path.join(self.tmp, "snapshot-" + f)
            with open(snap, "wb") as fh:
                fh.write(text)
            n_valid += self.validate(snap)
        self.assertGreater(n_valid, 100)
        # the older versions: every converted event of the run validates
        # against that version's generated JSON Schema
        stored = set(self.stored_uids())
        for v in ("1.1.0", "1.3.0", "1.5.0"):
            path = os.path.join(self.tmp, "v%s.jsonl" % v)
            wait_for(lambda: stored <= set(uids_of_jsonl(read(path))) |
                     self.refused_uids(v), 30, "every stored event at OCSF %s" % v)
            n = self.validate(path, v)
            self.assertGreater(n, 100, "events converted to %s" % v)
            for ln in read(path).splitlines():
                self.assertEqual(json.loads(ln)["metadata"]["version"], v)

    # ------------------------------------------------------------- logs -o json
    def test_logs_json_prints_valid_ocsf(self):
        self.write_yaml("ocsf_logging_enabled: true\n")
        self.start_gateway()
        self.cli("sandbox", "create", "--name", "lj1", "--", "sh", "-c", "echo hi; sleep 1")
        wait_for(lambda: len(self.stored_uids()) > 10, 30, "stored events")
        out = self.cli("logs", "lj1", "-o", "json", "-n", "100000")
        path = os.path.join(self.tmp, "logs-o-json.jsonl")  # validated by the fixture too
        events = []
        with open(path, "w") as f:
            for ln in out.splitlines():
                obj = json.loads(ln)
                if "class_uid" in obj:
                    events.append(obj)
                    f.write(ln + "\n")
        self.assertGreater(len(events), 10)
        self.assertEqual(self.validate(path), len(events))
        self.assertTrue(any(e["class_uid"] == 1007 for e in events), "a process event")
        self.assertEqual(len({e["metadata"]["uid"] for e in events}), len(events))

    # ------------------------------------------------------------- http
    def test_http_batches_gzip_retries_and_hec(self):
        Receiver.script = [429, 503]
        Receiver.requests = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        port = self.httpd.server_address[1]
        token = os.path.join(self.tmp, "token")
        with open(token, "w") as f:
            f.write("s3cret-token\n")
        self.write_yaml(
            "ocsf_logging_enabled: false\n"
            "export:\n"
            "  destinations:\n"
            "    - name: ndjson\n"
            "      type: http\n"
            "      url: http://127.0.0.1:%d/ingest\n"
            "      token_file: %s\n"
            "      gzip: true\n"
            "      retry_min_ms: 100\n"
            "      retry_max_ms: 400\n"
            "    - name: hec\n"
            "      type: http\n"
            "      format: splunk_hec\n"
            "      url: http://127.0.0.1:%d/services/collector/event\n"
            "      token_file: %s\n"
            "      filter:\n"
            "        gateway_events: false\n" % (port, token, port, token))
        self.start_gateway()
        self.cli("sandbox", "create", "--name", "ht1", "--", "sleep", "600")
        wait_for(lambda: len(self.stored_uids()) > 100, 30, "stored events")

        def ndjson_uids():
            got = set()
            with Receiver.lock:
                for r in Receiver.requests:
                    if r["path"] == "/ingest" and r["status"] == 200:
                        for ln in gzip.decompress(r["body"]).decode().splitlines():
                            got.add(json.loads(ln)["metadata"]["uid"])
            return got
        wait_for(lambda: set(self.stored_uids()) <= ndjson_uids(), 30, "every event over HTTP")
        with Receiver.lock:
            reqs = list(Receiver.requests)
        nd = [r for r in reqs if r["path"] == "/ingest"]
        # the first batch: 429, then 503, then accepted; each retry resends
        # from the same queue position, in order (it may have grown meanwhile)
        self.assertEqual([r["status"] for r in nd[:3]], [429, 503, 200])
        first = [gzip.decompress(r["body"]) for r in nd[:3]]
        self.assertTrue(first[1].startswith(first[0]), "retry 1 resends batch 1 first")
        self.assertTrue(first[2].startswith(first[1]), "retry 2 resends batch 1 first")
        for r in nd:
            self.assertEqual(r["headers"].get("Content-Encoding"), "gzip")
            self.assertEqual(r["headers"].get("Authorization"), "Bearer s3cret-token")
            self.assertEqual(r["headers"].get("Content-Type"), "application/x-ndjson")
        self.assertGreater(max(len(gzip.decompress(r["body"]).splitlines()) for r in nd), 1,
                           "events are batched")
        hec = [r for r in reqs if r["path"] == "/services/collector/event" and r["status"] == 200]
        self.assertTrue(hec)
        hec_uids = set()
        for r in hec:
            self.assertEqual(r["headers"].get("Authorization"), "Splunk s3cret-token")
            for ln in r["body"].decode().splitlines():
                env = json.loads(ln)
                self.assertEqual(env["source"], "openshell")
                self.assertEqual(env["sourcetype"], "ocsf:%d" % env["event"]["class_uid"])
                self.assertIn("container", env["event"]["device"], "gateway events filtered out")
                hec_uids.add(env["event"]["metadata"]["uid"])
        self.assertGreater(len(hec_uids), 10)
        glog = read(os.path.join(self.data, "openshell-gateway.log"))
        self.assertIn("export ndjson: delivery failing", glog)
        self.assertIn("HTTP 429", glog)
        self.assertIn("export ndjson: delivery resumed", glog)

    # ------------------------------------------------------------- TLS
    def test_syslog_over_tls_and_a_refused_certificate(self):
        # a CA and a server certificate for 127.0.0.1 made here (openssl)
        d = self.tmp
        def ossl(*a):
            subprocess.run(["openssl"] + list(a), check=True, capture_output=True)
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=t-ca",
             "-keyout", d + "/ca.key", "-out", d + "/ca.pem")
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", d + "/srv.key", "-out", d + "/srv.csr")
        with open(d + "/ext", "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        ossl("x509", "-req", "-in", d + "/srv.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key",
             "-CAcreateserial", "-days", "1", "-extfile", d + "/ext", "-out", d + "/srv.pem")
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
             "/CN=other-ca", "-keyout", d + "/other.key", "-out", d + "/other.pem")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(d + "/srv.pem", d + "/srv.key")
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(8)
        port = lsock.getsockname()[1]
        frames = []
        stop = threading.Event()

        def conn(c):
            try:
                t = ctx.wrap_socket(c, server_side=True)
            except (ssl.SSLError, OSError):
                c.close()
                return
            buf = b""
            t.settimeout(0.2)
            while not stop.is_set():
                try:
                    chunk = t.recv(65536)
                except socket.timeout:
                    continue
                except (ssl.SSLError, OSError):
                    break
                if not chunk:
                    break
                buf += chunk
                while b" " in buf:  # octet counting: LEN SP FRAME
                    n, rest = buf.split(b" ", 1)
                    if len(rest) < int(n):
                        break
                    frames.append(rest[:int(n)])
                    buf = rest[int(n):]
            t.close()

        def serve():  # one thread per connection: each destination has its own
            lsock.settimeout(0.2)
            while not stop.is_set():
                try:
                    c, _ = lsock.accept()
                except OSError:
                    continue
                threading.Thread(target=conn, args=(c,), daemon=True).start()
        th = threading.Thread(target=serve, daemon=True)
        th.start()
        try:
            self.write_yaml(
                "export:\n"
                "  destinations:\n"
                "    - name: tls\n"
                "      type: syslog\n"
                "      address: 127.0.0.1:%d\n"
                "      tls: true\n"
                "      ca_file: %s/ca.pem\n"
                "      retry_min_ms: 100\n"
                "      retry_max_ms: 300\n"
                "    - name: wrongca\n"
                "      type: syslog\n"
                "      address: 127.0.0.1:%d\n"
                "      tls: true\n"
                "      ca_file: %s/other.pem\n"
                "      retry_min_ms: 100\n"
                "      retry_max_ms: 300\n" % (port, d, port, d))
            self.start_gateway()
            self.cli("sandbox", "create", "--name", "tl1", "--", "sleep", "600")
            wait_for(lambda: len(self.stored_uids()) > 20, 30, "stored events")
            wait_for(lambda: set(self.stored_uids()[:20]) <= {
                UID_SD.search(f.decode()).group(1) for f in list(frames)
                if UID_SD.search(f.decode())}, 30, "the first events over TLS")
            self.assertTrue(all(f.startswith(b"<") and b" ocsf-" in f for f in frames))
            glog = os.path.join(self.data, "openshell-gateway.log")
            wait_for(lambda: "export wrongca: delivery failing" in read(glog), 30,
                     "the certificate refusal reported")
            self.assertIn("certificate", [ln for ln in read(glog).splitlines()
                                          if "export wrongca: delivery failing" in ln][0])
            self.assertNotIn("export tls: delivery failing", read(glog))
        finally:
            stop.set()
            th.join(timeout=5)
            lsock.close()

    # ------------------------------------------------------------- bad config
    def test_malformed_config_refused_at_start_and_on_reload(self):
        out_file = os.path.join(self.tmp, "ok.jsonl")
        self.write_yaml(
            "export:\n"
            "  destinations:\n"
            "    - name: a\n"
            "      type: syslog\n"
            "      address: 127.0.0.1:99999\n")
        self.assertNotEqual(self.start_gateway(expect_fail=True), 0)
        err = read(os.path.join(self.data, "gateway.stderr"))
        self.assertIn("gateway.yaml:5:export.destinations[0].address", err)
        good = ("export:\n"
                "  destinations:\n"
                "    - name: local\n"
                "      type: file\n"
                "      path: %s\n" % out_file)
        self.write_yaml(good)
        self.start_gateway()
        self.cli("sandbox", "create", "--name", "bc1", "--", "sleep", "600")
        wait_for(lambda: len(read(out_file).splitlines()) > 20, 30, "events in the file")
        self.write_yaml(good + "      color: blue\n")
        os.kill(self.gw.pid, signal.SIGHUP)
        glog = os.path.join(self.data, "openshell-gateway.log")
        wait_for(lambda: "export config refused" in read(glog), 15, "EXPORT_CONFIG_REFUSED")
        self.assertIn("gateway.yaml:6:export.destinations[0].color: unknown key", read(glog))
        n = len(read(out_file).splitlines())
        wait_for(lambda: len(read(out_file).splitlines()) > n + 20, 30,
                 "the running destination keeps delivering")
        self.assertEqual(self.gw.poll(), None)

    # ------------------------------------------------------------- bad input
    def start_sink(self):
        Sink.status = 200
        Sink.reading.set()
        Sink.got = {}
        self.httpd = QuietHTTPServer(("127.0.0.1", 0), Sink)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self.httpd.server_address[1]

    def rpc_bench(self, tap_dir, name):
        """One bounded loop of PushSandboxLogs and GetSandboxPolicy calls as
        the sandbox's supervisor: {figure: value} of osh-rpc-bench."""
        def cred():
            for f in os.listdir(tap_dir):
                if f.startswith("boot.") and not f.endswith(".tmp"):
                    for ln in read(os.path.join(tap_dir, f)).splitlines():
                        if ln.startswith("credential="):
                            return ln[len("credential="):]
            return None
        c = wait_for(cred, 20, "the supervisor's credential in the tap dir")
        r = subprocess.run([RPC_BENCH, "--gateway", self.addr, "--sandbox", name,
                            "--streams", "1", "--lines", "1000", "--batch", "50",
                            "--calls", "400"],
                           capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, OSH_BENCH_CREDENTIAL=c))
        self.assertEqual(r.returncode, 0, "osh-rpc-bench: %s%s" % (r.stdout, r.stderr))
        fig = bench_figures(r.stdout)
        for k in ("rpc_policy_p50", "rpc_policy_p99", "rpc_push_gateway"):
            self.assertIn(k, fig, r.stdout)
        return fig

    def gateway_events_with(self, text):
        return [json.loads(ln) for ln in
                read(os.path.join(self.data, "openshell-gateway-ocsf.log")).splitlines()
                if text in ln]

    def test_full_spool_disk_keeps_ingesting_reports_and_resumes(self):
        mnt = tempfile.mkdtemp(prefix="osh-gx-spool-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            os.rmdir(mnt)
        self.assertEqual(r.returncode, 0, "mount tmpfs (root needed): %s" % r.stderr)
        self.mounts.append(mnt)
        port = self.start_sink()
        Sink.status = 503  # the receiver refuses: the queue only grows
        tap = os.path.join(self.tmp, "taps")
        os.makedirs(tap, mode=0o700)
        self.write_yaml(
            "export:\n"
            "  queue_dir: %s\n"
            "  destinations:\n"
            "    - name: hq\n"
            "      type: http\n"
            "      url: http://127.0.0.1:%d/full\n"
            "      retry_min_ms: 100\n"
            "      retry_max_ms: 300\n" % (mnt, port))
        self.start_gateway(tap_dir=tap)
        self.cli("sandbox", "create", "--name", "fd1", "--", "sleep", "600")
        glog = os.path.join(self.data, "openshell-gateway.log")
        wait_for(lambda: re.search(r"export hq: \d+ events dropped: queue write failed",
                                   read(glog)), 60, "EXPORT_QUEUE_DROPPED (write_failed)")
        st = os.statvfs(mnt)
        self.assertLess(st.f_bavail * st.f_frsize, 16384, "the spool tmpfs is full")
        # the disk is full: ingestion and policy polls carry on
        n0 = len(self.stored_uids())
        fig = self.rpc_bench(tap, "fd1")
        self.assertGreater(fig["rpc_push_gateway_accepted"], 0)
        self.assertEqual(fig["rpc_push_gateway_accepted"], fig["rpc_push_gateway_sent"])
        wait_for(lambda: len(self.stored_uids()) > n0 + 50, 30,
                 "the supervisor's events stored while the spool disk is full")
        ev = wait_for(lambda: [e for e in self.gateway_events_with('"write_failed"')
                               if e.get("unmapped", {}).get("destination") == "hq"], 15,
                      "the write_failed drop event in the gateway JSONL")
        self.assertGreater(ev[0]["unmapped"]["dropped_events"], 0)
        self.assertEqual(ev[0]["class_uid"], ev[-1]["class_uid"])
        self.assertIsNone(self.gw.poll(), "the gateway survived the full disk")
        # space comes back (the receiver takes the queue): delivery resumes
        Sink.status = 200
        wait_for(lambda: "export hq: delivery resumed" in read(glog), 30,
                 "EXPORT_DELIVERY_RESUMED for hq")
        wait_for(lambda: os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize > 128 * 1024, 30,
                 "the drained queue's space freed")
        before = set(self.stored_uids())
        wait_for(lambda: len(set(self.stored_uids()) - before) > 50, 30, "new events stored")
        after = set(self.stored_uids()) - before
        wait_for(lambda: after <= Sink.uids("/full"), 30,
                 "every event stored after the disk freed delivered")
        self.assertIsNone(self.gw.poll())
        print("\nfull spool disk: policy p50 %.0f us p99 %.0f us, push %.0f lines/s while full"
              % (fig["rpc_policy_p50"], fig["rpc_policy_p99"], fig["rpc_push_gateway"]),
              file=sys.stderr)

    def test_receivers_that_accept_and_stall(self):
        hport = self.start_sink()
        self.stall = StallSyslog()
        tap = os.path.join(self.tmp, "taps")
        os.makedirs(tap, mode=0o700)
        self.write_yaml(
            "export:\n"
            "  destinations:\n"
            "    - name: sstall\n"
            "      type: syslog\n"
            "      address: 127.0.0.1:%d\n"
            "      timeout_ms: 1000\n"
            "      retry_min_ms: 100\n"
            "      retry_max_ms: 300\n"
            "    - name: hstall\n"
            "      type: http\n"
            "      url: http://127.0.0.1:%d/stall\n"
            "      timeout_ms: 1000\n"
            "      retry_min_ms: 100\n"
            "      retry_max_ms: 300\n" % (self.stall.port, hport))
        self.start_gateway(tap_dir=tap)
        self.cli("sandbox", "create", "--name", "st1", "--", "sleep", "600")
        wait_for(lambda: len(self.stored_uids()) > 20, 30, "stored events")
        wait_for(lambda: set(self.stored_uids()[:20]) <= self.stall.uids() and
                 set(self.stored_uids()[:20]) <= Sink.uids("/stall"), 30,
                 "the first events at both receivers")
        base = self.rpc_bench(tap, "st1")  # the baseline, before the stall
        # both receivers keep their connections and stop reading
        self.stall.reading.clear()
        Sink.reading.clear()
        glog = os.path.join(self.data, "openshell-gateway.log")
        wait_for(lambda: "export sstall: delivery failing" in read(glog) and
                 "export hstall: delivery failing" in read(glog), 60,
                 "EXPORT_DELIVERY_FAILED for both stalled receivers")
        lines = [ln for ln in read(glog).splitlines() if "delivery failing" in ln]
        self.assertTrue(any("sstall" in ln and "stalled" in ln for ln in lines), lines)
        self.assertTrue(any("hstall" in ln and "imed out" in ln for ln in lines), lines)
        stalled = self.rpc_bench(tap, "st1")
        print("\nstalled receivers: policy p50 %.0f/%.0f us p99 %.0f/%.0f us, push %.0f/%.0f "
              "lines/s (stalled/baseline)" % (
                  stalled["rpc_policy_p50"], base["rpc_policy_p50"], stalled["rpc_policy_p99"],
                  base["rpc_policy_p99"], stalled["rpc_push_gateway"], base["rpc_push_gateway"]),
              file=sys.stderr)
        # generous bounds (2 shared cores): the export threads must not be
        # in the way of ingestion or policy polls
        self.assertLessEqual(stalled["rpc_policy_p50"], 5 * base["rpc_policy_p50"] + 20000)
        self.assertLessEqual(stalled["rpc_policy_p99"], 5 * base["rpc_policy_p99"] + 50000)
        self.assertGreaterEqual(stalled["rpc_push_gateway"], 0.25 * base["rpc_push_gateway"])
        self.assertEqual(stalled["rpc_push_gateway_accepted"], stalled["rpc_push_gateway_sent"])
        # the receivers read again: every queued event arrives
        want = set(self.stored_uids())
        self.stall.reading.set()
        Sink.reading.set()
        wait_for(lambda: "export sstall: delivery resumed" in read(glog) and
                 "export hstall: delivery resumed" in read(glog), 60,
                 "EXPORT_DELIVERY_RESUMED for both")
        try:
            wait_for(lambda: want <= self.stall.uids() and want <= Sink.uids("/stall"), 60,
                     "every event queued during the stall at both receivers")
        finally:
            print("stall: %d events, syslog missing %d, http missing %d" % (
                len(want), len(want - self.stall.uids()), len(want - Sink.uids("/stall"))),
                file=sys.stderr)
        self.assertGreater(len(want), 50)

    def test_https_destination_and_a_wrong_ca(self):
        d = self.tmp
        make_ca(d)
        port = self.start_sink()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(d + "/srv.pem", d + "/srv.key")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        qdir = os.path.join(self.tmp, "queues")
        self.write_yaml(
            "export:\n"
            "  queue_dir: %s\n"
            "  destinations:\n"
            "    - name: https_ok\n"
            "      type: http\n"
            "      url: https://127.0.0.1:%d/ok\n"
            "      ca_file: %s/ca.pem\n"
            "      retry_min_ms: 100\n"
            "      retry_max_ms: 300\n"
            "    - name: https_bad\n"
            "      type: http\n"
            "      url: https://127.0.0.1:%d/bad\n"
            "      ca_file: %s/other.pem\n"
            "      retry_min_ms: 100\n"
            "      retry_max_ms: 300\n" % (qdir, port, d, port, d))
        self.start_gateway()
        self.cli("sandbox", "create", "--name", "hs1", "--", "sleep", "600")
        wait_for(lambda: len(self.stored_uids()) > 50, 30, "stored events")
        want = set(self.stored_uids())
        wait_for(lambda: want <= Sink.uids("/ok"), 30, "every event over HTTPS")
        glog = os.path.join(self.data, "openshell-gateway.log")
        wait_for(lambda: "export https_bad: delivery failing" in read(glog), 30,
                 "the certificate refusal reported")
        line = [ln for ln in read(glog).splitlines()
                if "export https_bad: delivery failing" in ln][0]
        self.assertIn("certificate", line)
        self.assertNotIn("export https_ok: delivery failing", read(glog))
        self.assertEqual(Sink.uids("/bad"), set(), "nothing delivered with the wrong CA")
        # its queue is kept: every event waits on disk, the cursor at the start

        def queued():
            qd = os.path.join(qdir, "https_bad")
            got = []
            for f in sorted(os.listdir(qd)):
                if f.startswith("seg-"):
                    got += uids_of_jsonl(read(os.path.join(qd, f)))
            return got
        wait_for(lambda: want <= set(queued()), 30, "the refused destination's queue")
        cur = read(os.path.join(qdir, "https_bad", "cursor")).split()
        self.assertIn(cur, ([], ["1", "0"]), "nothing committed for the refused destination")


if __name__ == "__main__":
    unittest.main(verbosity=2)
