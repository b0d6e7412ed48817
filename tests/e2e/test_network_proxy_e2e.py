#!/usr/bin/python3
"""End-to-end: curl inside a sandbox's network namespace, through its proxy.

DESIGN
Real binaries as root (supervisor/net + supervisor/proxy). An origin HTTP
server runs on the host's loopback; the sandbox reaches it only through the
proxy on the host end of its veth, admitted by `allowed_ips`. The command in
the sandbox (a shell script with curl and python) tries, in order: an
allowed forward GET, an allowed CONNECT tunnel, a denied host, a denied
binary (python is not in the policy), SSRF to 127.0.0.1 (in the policy but
without allowed_ips) and a direct connection to the host end of its own veth
on port 9 (a bypass). Each outcome is asserted on the wire (status codes the
command printed), in openshell.log, in openshell-ocsf.log (every line
schema-valid) and in `openshell sandbox logs`.
The live policy change runs against a scripted gateway (Python gRPC, the
real protocol): the first policy lacks python, the command retries until
the supervisor picks up the new policy hash and the same request succeeds,
without restarting the sandbox. Traffic goes only to loopback and to the
sandbox's own veth. Every wait polls a condition with a deadline.
"""
import concurrent.futures
import hashlib
import http.server
import os
import re
import signal
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import test_supervisor_e2e as tse  # noqa: E402  (its TestCases are not re-run here)
from test_supervisor_e2e import SANDBOX, jsonl, keep_logs, read, wait_for  # noqa: E402
from test_network_e2e import shared_dir  # noqa: E402

CURL = "/usr/bin/curl"
PY = "/usr/bin/python3"
BODY = b"hello from the loopback origin\n"


class Origin(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


def policy_yaml(oport, binaries):
    bins = "".join("      - path: %s\n" % b for b in binaries)
    return ("version: 1\n"
            "network_policies:\n"
            "  origin:\n"
            "    endpoints:\n"
            "      - host: localhost\n"
            "        port: %d\n"
            "        allowed_ips: [127.0.0.1, \"::1\"]\n"
            "      - host: 127.0.0.1\n"
            "        port: %d\n"
            "    binaries:\n%s" % (oport, oport, bins))


# The command in the sandbox. $1 = origin port, $2 = output file.
AGENT = r"""
o=$1; out=$2
c() { %(curl)s -sS -m 10 --noproxy '' -o /dev/null -w '%%{http_code}' "$@" 2>/dev/null; }
t() { %(curl)s -sS -m 10 --noproxy '' -o /dev/null -w '%%{http_connect}/%%{http_code}' -p "$@" 2>/dev/null; }
echo "proxy=$HTTP_PROXY" >> $out
echo "forward=$(c http://localhost:$o/)" >> $out
echo "connect=$(t http://localhost:$o/)" >> $out
echo "host=$(c http://denied.invalid/)" >> $out
echo "binary=$(NO_PROXY= no_proxy= %(py)s -c '
import os, urllib.request, urllib.error
op = urllib.request.build_opener(urllib.request.ProxyHandler({"http": os.environ["HTTP_PROXY"]}))
try:
    print(op.open("http://localhost:%%s/" %% os.environ["O"], timeout=10).status)
except urllib.error.HTTPError as e:
    print(e.code)
' 2>&1)" >> $out
echo "ssrf=$(t http://127.0.0.1:$o/)" >> $out
echo "bypass=$(%(py)s -c '
import socket
gw = [socket.inet_ntoa(bytes.fromhex(f[2])[::-1]) for f in
      (l.split() for l in open("/proc/net/route")) if f[1] == "00000000"][0]
s = socket.socket(); s.settimeout(10)
try:
    s.connect((gw, 9)); print("connected")
except ConnectionRefusedError:
    print("refused")
' 2>&1)" >> $out
echo done=1 >> $out
exec sleep 60
""" % {"curl": CURL, "py": PY}


def codes(path):
    return [e.get("metadata", {}).get("event_code") for e in jsonl(path)]


def result(out, key):
    m = re.search(r"^%s=(.*)$" % key, read(out), re.M)
    return m.group(1) if m else None


class OriginMixin:
    def start_origin(self):
        self.origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
        self.oport = self.origin.server_address[1]
        threading.Thread(target=self.origin.serve_forever, daemon=True).start()

    def stop_origin(self):
        self.origin.shutdown()
        self.origin.server_close()


class CurlInSandbox(unittest.TestCase, OriginMixin):
    # The gateway fixture of the supervisor e2e (not its tests).
    validate = tse.E2E.validate
    gateway = tse.E2E.gateway
    create = tse.E2E.create

    def setUp(self):
        with open("/proc/sys/net/netfilter/nf_log_all_netns", "w") as f:
            f.write("1")  # the bypass monitor's host requirement (docs/network.md)
        tse.E2E.setUp(self)
        self.start_origin()

    def tearDown(self):
        self.stop_origin()
        tse.E2E.tearDown(self)

    def test_allowed_denied_ssrf_bypass_in_both_files_and_cli(self):
        g = self.gateway(["--ocsf-logging", "true"])
        pol = os.path.join(self.tmp, "policy.yaml")
        with open(pol, "w") as f:
            f.write(policy_yaml(self.oport, [CURL]))
        out = os.path.join(shared_dir(self.tmp), "agent.out")
        g.cli("sandbox", "create", "--name", "net", "--policy", pol, "--", "sh", "-c",
              "O=%d; export O; " % self.oport + AGENT, "agent", str(self.oport), out)
        d = g.logs_dir("net")
        wait_for(lambda: result(out, "done") is not None, 60, "the agent's results in %s" % out)
        self.assertRegex(result(out, "proxy"), r"^http://10\.\d+\.\d+\.\d+:\d+$", read(out))
        self.assertEqual(result(out, "forward"), "200", read(out))
        self.assertEqual(result(out, "connect"), "200/200", read(out))
        self.assertEqual(result(out, "host"), "403", read(out))
        self.assertEqual(result(out, "binary"), "403", read(out))
        self.assertEqual(result(out, "ssrf"), "403/000", read(out))
        self.assertEqual(result(out, "bypass"), "refused", read(out))

        ocsf = os.path.join(d, "openshell-ocsf.log")
        log = os.path.join(d, "openshell.log")
        wait_for(lambda: "BYPASS_DETECT_FINDING" in codes(ocsf), 15, "the bypass finding")
        ev = jsonl(ocsf)
        by = {}
        for e in ev:
            by.setdefault(e["metadata"]["event_code"], []).append(e)
        self.assertEqual(len(by["FORWARD_ALLOW"]), 1)
        self.assertEqual(by["FORWARD_ALLOW"][0]["actor"]["process"]["path"],
                         os.path.realpath(CURL))
        self.assertEqual(len(by["CONNECT_ALLOW"]), 1)
        self.assertEqual(by["CONNECT_ALLOW"][0]["dst_endpoint"]["port"], self.oport)
        deny = [e["status_detail"] for e in by["FORWARD_DENY"]]
        self.assertTrue(any("denied.invalid" in r for r in deny), deny)
        self.assertTrue(any("not allowed in policy 'origin'" in r for r in deny), deny)
        self.assertEqual(len(by["SSRF_BLOCK"]), 1)
        self.assertEqual(by["SSRF_BLOCK"][0]["unmapped"]["address_class"], "loopback")
        self.assertEqual(len(by["BYPASS_DETECT"]), 1)
        self.assertEqual(len(by["BYPASS_DETECT_FINDING"]), 1)
        self.assertEqual(by["BYPASS_DETECT"][0]["dst_endpoint"]["port"], 9)
        self.assertEqual(by["BYPASS_DETECT"][0]["actor"]["process"]["name"], "python3")
        pol_ev = [e for e in ev if "enforced" in e.get("unmapped", {})]
        self.assertTrue(pol_ev and all("network" in e["unmapped"]["enforced"] for e in pol_ev))

        sh = read(log)
        for pat in (r"HTTP:GET \[INFO\] ALLOWED curl\(\d+\) -> GET http://localhost:%d/"
                    % self.oport,
                    r"NET:OPEN \[INFO\] ALLOWED curl\(\d+\) -> localhost:%d" % self.oport,
                    r"HTTP:GET \[MED\] DENIED curl\(\d+\) -> GET http://denied\.invalid/",
                    r"HTTP:GET \[MED\] DENIED python3[.\d]*\(\d+\) -> GET http://localhost:%d/"
                    % self.oport,
                    r"NET:REFUSE \[MED\] DENIED python3\(\d+\) -> 10\.[\d.]+:9/tcp .*"
                    r"BYPASS_DETECT",
                    r'FINDING:BLOCKED \[MED\] "Proxy Bypass Detected"'):
            self.assertEqual(len(re.findall(pat, sh)), 1, "%s in\n%s" % (pat, sh))
        cli = wait_for(lambda: (lambda t: t if "Proxy Bypass Detected" in t else None)(
            g.cli("sandbox", "logs", "net").stdout), 15, "the bypass in sandbox logs")
        for pat in (r"ALLOWED curl\(\d+\) -> GET http://localhost:%d/" % self.oport,
                    r"DENIED curl\(\d+\) -> GET http://denied\.invalid/",
                    r"NET:REFUSE .*BYPASS_DETECT"):
            self.assertEqual(len(re.findall(pat, cli)), 1, "%s in\n%s" % (pat, cli))


class ScriptedGateway:
    """GetSandboxPolicy with a policy the test swaps; PushSandboxLogs drained."""

    def __init__(self, pb, pbg, policy):
        import grpc
        self.pb = pb
        self.set_policy(policy)
        gw = self

        class Servicer(pbg.OpenShellServicer):
            def GetSandboxPolicy(self, req, ctx):
                with gw.lock:
                    pol, h = gw.policy, gw.hash
                return pb.GetSandboxPolicyResponse(
                    policy=pol, version=1, policy_hash=h,
                    sandbox_config=pb.SandboxConfig(
                        config_revision=1, logging=pb.LoggingConfig(ocsf_enabled=True)))

            def PushSandboxLogs(self, it, ctx):
                for _ in it:
                    pass
                return pb.PushSandboxLogsResponse()

        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
        pbg.add_OpenShellServicer_to_server(Servicer(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def set_policy(self, policy):
        if not hasattr(self, "lock"):
            self.lock = threading.Lock()
        with self.lock:
            self.policy = policy
            self.hash = hashlib.sha256(policy.SerializeToString()).hexdigest()

    def stop(self):
        self.server.stop(0)


class LivePolicyChange(unittest.TestCase, OriginMixin):
    def setUp(self):
        os.environ.setdefault("OSH_PROTO_DIR", os.path.join(tse.SRC, "proto"))
        import osh_itest
        self.pb, self.pbg = osh_itest.stubs()
        self.tmp = __import__("tempfile").mkdtemp(prefix="osh-netlive-")
        self.start_origin()
        self.sup = None

    def tearDown(self):
        if self.sup and self.sup.poll() is None:
            self.sup.send_signal(signal.SIGTERM)
            self.sup.wait(timeout=30)
        self.gw.stop()
        self.stop_origin()
        keep_logs(self.tmp, self.id())
        files = [os.path.join(self.tmp, "openshell-ocsf.log")]
        r = subprocess.run(["/usr/bin/python3", tse.VALIDATE] + files, capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        __import__("shutil").rmtree(self.tmp, ignore_errors=True)

    def pol(self, binaries):
        pb = self.pb
        ep = [pb.NetworkEndpoint(host="localhost", port=self.oport,
                                 allowed_ips=["127.0.0.1", "::1"])]
        return pb.SandboxPolicy(version=1, network_policies={
            "origin": pb.NetworkPolicyRule(endpoints=ep,
                                           binaries=[pb.NetworkBinary(path=b)
                                                     for b in binaries])})

    def test_deny_turns_into_allow_without_restart(self):
        self.gw = ScriptedGateway(self.pb, self.pbg, self.pol([CURL]))
        out = os.path.join(shared_dir(self.tmp), "agent.out")
        # python retries the same request until it is allowed (bounded: 600 x 50 ms)
        agent = ("import os, time, urllib.request, urllib.error\n"
                 "os.environ['no_proxy'] = os.environ['NO_PROXY'] = ''  # via the proxy\n"
                 "op = urllib.request.build_opener(urllib.request.ProxyHandler("
                 "{'http': os.environ['HTTP_PROXY']}))\n"
                 "for i in range(600):\n"
                 "    try:\n"
                 "        code = op.open('http://localhost:%d/', timeout=10).status\n"
                 "    except urllib.error.HTTPError as e:\n"
                 "        code = e.code\n"
                 "    with open(%r, 'a') as f:\n"
                 "        f.write('%%d\\n' %% code)\n"
                 "    if code == 200:\n"
                 "        break\n"
                 "    time.sleep(0.05)\n" % (self.oport, out))
        env = dict(os.environ, OPENSHELL_POLL_INTERVAL="200ms")
        self.sup = subprocess.Popen(
            [SANDBOX, "--gateway", "127.0.0.1:%d" % self.gw.port, "--sandbox-id", "live-1",
             "--log-dir", self.tmp, "--", PY, "-c", agent],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        wait_for(lambda: "403" in read(out).split(), 30, "a first refusal")
        pid_before = self.sup.pid
        self.gw.set_policy(self.pol([CURL, os.path.realpath(PY)]))
        wait_for(lambda: "200" in read(out).split(), 30, "the same request allowed")
        self.assertEqual(self.sup.wait(timeout=30), 0)
        self.assertEqual(self.sup.pid, pid_before)
        ocsf = os.path.join(self.tmp, "openshell-ocsf.log")
        c = codes(ocsf)
        self.assertGreaterEqual(c.count("FORWARD_DENY"), 1)
        self.assertEqual(c.count("FORWARD_ALLOW"), 1)
        self.assertEqual(c.count("PROC_LAUNCH"), 1, "one command, never restarted")
        reload = [e for e in jsonl(ocsf) if e["metadata"]["event_code"] == "POLICY_LOAD_GATEWAY"
                  and e.get("unmapped", {}).get("reload")]
        self.assertEqual(len(reload), 1)
        self.assertIn("network", reload[0]["unmapped"]["enforced"])


if __name__ == "__main__":
    unittest.main()
