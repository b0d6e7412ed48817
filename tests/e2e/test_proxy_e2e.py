#!/usr/bin/python3
"""End-to-end tests of the egress proxy with real clients on loopback.

DESIGN
An HTTP origin runs in this process on 127.0.0.1 (port 0). The proxy is the
real program: osh-proxy (the proxy library as a standalone daemon, policy from
a YAML file, SIGHUP = reload) and openshell-sandbox (the proxy as a
supervisor subsystem, without a network namespace: the command reaches it
through the HTTP(S)_PROXY variables the subsystem sets). Clients are the
real curl (/usr/bin/curl, the binary the policy names) and this Python
interpreter (a binary the policy does not name). Traffic goes only to
127.0.0.1 and to names the proxy refuses before resolving them. Every wait
polls a condition with a deadline. Every JSONL file is checked with
tools/ocsf-validate, and each outcome is asserted in the event files as well
as on the wire.

The namespace variant (curl inside the sandbox's netns, bypass detection)
lives with the net subsystem's tests.
"""
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import osh_testdir  # noqa: E402  (validates every JSONL line, archives logs for the census)

BIN = os.environ.get("OSH_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
SRC = os.environ.get("OSH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
PROXY = os.path.join(BIN, "osh-proxy")
SANDBOX = os.path.join(BIN, "openshell-sandbox")
CURL = "/usr/bin/curl"
BODY = b"hello from the loopback origin\n"


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(0.02)


class Origin(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("X-Seen-Via", self.headers.get("Via", "-"))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


def events(path):
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


class ProxyCase(unittest.TestCase):
    def setUp(self):
        self.tdir = osh_testdir.TestDir("proxy-e2e")
        self.dir = self.tdir.path
        self.origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
        self.oport = self.origin.server_address[1]
        threading.Thread(target=self.origin.serve_forever, daemon=True).start()
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
        self.origin.shutdown()
        self.origin.server_close()
        self.tdir.finish()  # raises on any schema-invalid JSONL line

    # ------------------------------------------------------------ helpers
    def policy(self, extra_binaries=()):
        bins = "".join("      - path: %s\n" % b for b in (CURL,) + tuple(extra_binaries))
        return (
            "version: 1\n"
            "network_policies:\n"
            "  origin:\n"
            "    endpoints:\n"
            "      - host: localhost\n"
            "        port: %d\n"
            "        allowed_ips: [127.0.0.1, \"::1\"]\n"
            "      - host: 127.0.0.1\n"
            "        port: %d\n"
            "    binaries:\n%s" % (self.oport, self.oport, bins)
        )

    def write_policy(self, text):
        path = os.path.join(self.dir, "policy.yaml")
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        return path

    def start_proxy(self, text):
        pol = self.write_policy(text)
        p = subprocess.Popen(
            [PROXY, "--policy", pol, "--log-dir", self.dir, "--jsonl"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        line = p.stdout.readline()
        if not line.startswith("listening "):
            p.kill()
            self.fail("osh-proxy did not start: %r %s" % (line, p.stderr.read()))
        _, ip, port = line.split()
        self.proxy = p
        self.purl = "http://%s:%s" % (ip, port)
        return p

    def jsonl(self):
        return events(os.path.join(self.dir, "openshell-ocsf.log"))

    def wait_event(self, code, pred=lambda e: True, timeout=10):
        return wait_for(
            lambda: [e for e in self.jsonl() if e.get("metadata", {}).get("event_code") == code
                     and pred(e)],
            timeout, code)

    def curl(self, *args):
        r = subprocess.run(
            [CURL, "-sS", "-m", "10", "--noproxy", "", "-x", self.purl, "-D", "-", *args],
            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
        return r

    def python_get(self, url):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": self.purl}))
        try:
            with opener.open(url, timeout=10) as r:
                return r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    # -------------------------------------------------------------- tests
    def test_allow_deny_ssrf_and_live_reload(self):
        self.start_proxy(self.policy())
        url = "http://localhost:%d/" % self.oport

        # allowed forward GET (curl is the policy's binary)
        r = self.curl(url)
        self.assertIn("HTTP/1.0 200 OK", r.stdout)  # the origin speaks HTTP/1.0
        self.assertIn(BODY.decode(), r.stdout)
        self.assertIn("X-Seen-Via: 1.1 openshell-sandbox", r.stdout)
        fwd = self.wait_event("FORWARD_ALLOW")[0]
        self.assertEqual(fwd["activity_id"], 3)  # GET
        self.assertEqual(fwd["actor"]["process"]["path"], os.path.realpath(CURL))
        self.assertEqual(fwd["firewall_rule"]["name"], "origin")

        # allowed CONNECT tunnel (curl -p), then GET inside it
        r = self.curl("-p", url)
        self.assertIn("HTTP/1.1 200 Connection Established", r.stdout)
        self.assertIn(BODY.decode(), r.stdout)
        con = self.wait_event("CONNECT_ALLOW")[0]
        self.assertEqual(con["dst_endpoint"]["hostname"], "localhost")
        self.assertEqual(con["dst_endpoint"]["port"], self.oport)

        # denied host: refused before any lookup, reason on the wire and in the event
        r = self.curl("http://denied.invalid/")
        self.assertIn("HTTP/1.1 403 Forbidden", r.stdout)
        self.assertIn("X-OpenShell-Reason: endpoint denied.invalid:80 not in policy 'origin'",
                      r.stdout)
        deny = self.wait_event("FORWARD_DENY", lambda e: "denied.invalid" in
                               e.get("status_detail", ""))[0]
        self.assertEqual(deny["http_response"]["code"], 403)

        # denied binary: python is not in the policy
        code, body, headers = self.python_get(url)
        self.assertEqual(code, 403)
        reason = headers.get("X-OpenShell-Reason")
        self.assertIn("binary '", reason)
        self.assertIn("not allowed in policy 'origin'", reason)
        self.assertEqual(body.decode().strip(), reason)
        self.wait_event("FORWARD_DENY", lambda e: "not allowed in policy" in
                        e.get("status_detail", ""))

        # SSRF: 127.0.0.1 is in the policy but without allowed_ips
        r = self.curl("-p", "http://127.0.0.1:%d/" % self.oport)
        self.assertIn("HTTP/1.1 403", r.stdout)
        self.assertIn("127.0.0.1 resolves to internal address 127.0.0.1 (loopback)", r.stdout)
        ssrf = self.wait_event("SSRF_BLOCK")[0]
        self.assertEqual(ssrf["unmapped"]["address_class"], "loopback")
        self.wait_event("CONNECT_DENY", lambda e: "internal address" in e.get("status_detail", ""))

        # live policy change: python's interpreter added, SIGHUP, now allowed
        py = os.path.realpath(os.readlink("/proc/self/exe"))
        self.write_policy(self.policy(extra_binaries=(py,)))
        self.proxy.send_signal(signal.SIGHUP)
        self.wait_event("PROXY_POLICY_APPLIED",
                        lambda e: e["unmapped"]["policy_generation"] == 2)
        code, body, _ = self.python_get(url)
        self.assertEqual(code, 200)
        self.assertEqual(body, BODY)

        # a policy the engine cannot apply is refused; generation 2 stays
        self.write_policy(self.policy().replace("host: localhost", "host: \"*\""))
        self.proxy.send_signal(signal.SIGHUP)
        rej = self.wait_event("PROXY_POLICY_REJECTED")[0]
        self.assertEqual(rej["unmapped"]["kept_generation"], 2)
        code, body, _ = self.python_get(url)
        self.assertEqual(code, 200)

        # clean shutdown
        self.proxy.send_signal(signal.SIGTERM)
        self.assertEqual(self.proxy.wait(timeout=10), 0)
        self.wait_event("PROXY_STOP")
        self.wait_event("PROXY_LISTEN")
        with open(os.path.join(self.dir, "openshell.log")) as f:
            shorthand = f.read()
        self.assertRegex(shorthand, r"OCSF HTTP:GET \[INFO\] ALLOWED curl\(\d+\) -> GET "
                                    r"http://localhost:\d+/ \[policy:origin")
        self.assertRegex(shorthand, r"OCSF NET:OPEN \[INFO\] ALLOWED curl\(\d+\) -> localhost:")

    def test_tofu_denies_a_binary_whose_content_changed(self):
        import shutil
        tool = os.path.join(self.dir, "bin", "fetch")
        os.makedirs(os.path.dirname(tool))
        shutil.copy2(CURL, tool)
        pol = self.policy().replace("      - path: %s\n" % CURL, "      - path: %s\n" % tool)
        self.start_proxy(pol)
        url = "http://localhost:%d/" % self.oport

        def fetch():
            return subprocess.run(
                [tool, "-sS", "-m", "10", "--noproxy", "", "-x", self.purl, "-D", "-", url],
                capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})

        r = fetch()
        self.assertIn("HTTP/1.0 200 OK", r.stdout, r.stderr)  # first use: hash pinned
        with open(tool, "ab") as f:                            # same path, new content
            f.write(b"\0tampered")
        r = fetch()
        self.assertIn("HTTP/1.1 403 Forbidden", r.stdout, r.stderr)
        self.assertIn("X-OpenShell-Reason: binary integrity check failed: %s hash changed "
                      "since first use" % tool, r.stdout)
        self.wait_event("FORWARD_DENY", lambda e: "hash changed since first use" in
                        e.get("status_detail", ""))

    def test_malformed_input_gets_4xx_and_event(self):
        import socket
        self.start_proxy(self.policy())
        host, port = self.purl[len("http://"):].split(":")
        cases = [
            (b"GET http://a/ HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n", "400",
             "obs-fold"),
            (b"\x16\x03\x01\x00\x10binary", "400", "not an HTTP request"),
            (b"CONNECT nope HTTP/1.1\r\nHost: x\r\n\r\n", "400", "missing port"),
            (b"GET http://a/ HTTP/3.0\r\nHost: a\r\n\r\n", "505", "HTTP/1.0 and HTTP/1.1"),
        ]
        for raw, status, frag in cases:
            s = socket.create_connection((host, int(port)), timeout=10)
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            s.close()
            text = data.decode(errors="replace")
            self.assertTrue(text.startswith("HTTP/1.1 " + status), text)
            self.assertIn(frag, text)
            self.wait_event("PROXY_BAD_REQUEST", lambda e, f=frag: f in e.get("status_detail", ""))
        # the proxy still serves
        r = self.curl("http://localhost:%d/" % self.oport)
        self.assertIn("HTTP/1.0 200 OK", r.stdout)

    def test_supervisor_subsystem_without_namespace(self):
        pol = self.write_policy(self.policy())
        cmd = ("%s -sS -m 10 --noproxy '' -o /dev/null -w 'allowed=%%{http_code}\\n' "
               "http://localhost:%d/; "
               "%s -sS -m 10 --noproxy '' -o /dev/null -w 'denied=%%{http_code}\\n' "
               "http://denied.invalid/; env | grep '^HTTP_PROXY='" % (CURL, self.oport, CURL))
        env = dict(os.environ, OPENSHELL_NETNS="off")  # the namespace case: e2e_network_proxy
        r = subprocess.run([SANDBOX, "--log-dir", self.dir, "--policy", pol, "--", "sh", "-c",
                            cmd], capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("allowed=200", r.stdout)
        self.assertIn("denied=403", r.stdout)
        self.assertRegex(r.stdout, r"HTTP_PROXY=http://127\.0\.0\.1:\d+")
        with open(os.path.join(self.dir, "openshell.log")) as f:
            log = f.read()
        self.assertRegex(log, r"OCSF NET:LISTEN \[INFO\] 127\.0\.0\.1:\d+")
        self.assertRegex(log, r"OCSF HTTP:GET \[INFO\] ALLOWED curl\(\d+\) -> GET "
                              r"http://localhost:%d/ \[policy:origin" % self.oport)
        self.assertRegex(log, r"OCSF HTTP:GET \[MED\] DENIED curl\(\d+\) -> GET "
                              r"http://denied\.invalid/ .*not in policy 'origin'")
        self.assertRegex(log, r"CONFIG:APPLIED \[INFO\] network policy generation 1 applied")
        # without a namespace the supervisor must not claim network enforcement
        self.assertRegex(log, r"not enforced: network")


if __name__ == "__main__":
    unittest.main(verbosity=2)
