#!/usr/bin/python3
"""End-to-end: denials -> mechanistic proposals -> accepted through the CLI.

DESIGN
Real binaries as root: the gateway (SQLite store), a supervisor it starts in
its own network namespace, the CLI. Two HTTP origins run on the host's
loopback. The sandbox's policy admits only curl to the first one, so the
command (python, through the proxy) is refused at both, repeatedly. The
supervisor's denial aggregator folds the refusals per (host, port, binary)
and, every OPENSHELL_DENIAL_FLUSH_INTERVAL, the mechanistic mapper's proposals
reach the gateway. The test then reads them with `openshell sandbox proposals`
(table and -o json, hit counts), accepts the first one with `sandbox
proposals accept`, and the very same request from the very same process
passes once the supervisor's policy poll picks up the new version (no
restart: one PROC_LAUNCH, the same pid). The second proposal is rejected
and comes back as pending only when a new denial arrives after the decision.
Events are asserted in the supervisor's and the gateway's shorthand and JSONL
files (every JSONL line is schema-validated by the fixture). A second test
runs a supervisor whose gateway is unreachable: the round fails, says so
(DENIAL_FLUSH_FAILED) and keeps its keys. Traffic goes only to loopback and
to the sandbox's own veth; every wait polls a condition with a deadline.
"""
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_supervisor_e2e as tse  # noqa: E402  (its TestCases are not re-run here)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import osh_testdir  # noqa: E402
from test_supervisor_e2e import SANDBOX, jsonl, read, wait_for  # noqa: E402

CURL = "/usr/bin/curl"
PY = "/usr/bin/python3"
BODY = b"hello from the loopback origin\n"
FLUSH = "300ms"


class Origin(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


def start_origin():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def policy_yaml(port, box):
    return ("version: 1\n"
            "filesystem_policy: {read_write: [%s]}\n"
            "network_policies:\n"
            "  origin:\n"
            "    endpoints:\n"
            "      - host: localhost\n"
            "        port: %d\n"
            "        allowed_ips: [127.0.0.1, \"::1\"]\n"
            "    binaries:\n"
            "      - path: %s\n" % (box, port, CURL))


# The command: python asks both origins through the proxy until the first
# answers 200 (bounded: 1200 rounds of 100 ms), then waits for the file
# `again` and makes one more request to the second origin.
AGENT = r"""
import os, sys, time, urllib.request, urllib.error
os.environ['no_proxy'] = os.environ['NO_PROXY'] = ''
a, b, box = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
op = urllib.request.build_opener(urllib.request.ProxyHandler({'http': os.environ['HTTP_PROXY']}))
def get(port):
    try:
        return op.open('http://localhost:%d/' % port, timeout=10).status
    except urllib.error.HTTPError as e:
        return e.code
def note(line):
    with open(os.path.join(box, 'agent.out'), 'a') as f:
        f.write(line + '\n')
for i in range(1200):
    ca = get(a)
    note('a=%d' % ca)
    if ca == 200:
        break
    note('b=%d' % get(b))
    time.sleep(0.1)
note('phase1=done')
for i in range(1200):
    if os.path.exists(os.path.join(box, 'again')):
        note('again=%d' % get(b))
        break
    time.sleep(0.1)
note('done=1')
time.sleep(60)
"""


def codes(path):
    return [e.get("metadata", {}).get("event_code") for e in jsonl(path)]


class Proposals(unittest.TestCase):
    validate = tse.E2E.validate
    gateway = tse.E2E.gateway

    def setUp(self):
        os.environ["OPENSHELL_DENIAL_FLUSH_INTERVAL"] = FLUSH  # inherited by supervisors
        tse.E2E.setUp(self)
        self.o1, self.o2 = start_origin(), start_origin()
        self.p1, self.p2 = self.o1.server_address[1], self.o2.server_address[1]

    def tearDown(self):
        for o in (self.o1, self.o2):
            o.shutdown()
            o.server_close()
        os.environ.pop("OPENSHELL_DENIAL_FLUSH_INTERVAL", None)
        tse.E2E.tearDown(self)

    def proposals(self, g, name, *extra):
        r = g.cli("sandbox", "proposals", name, "-o", "json", *extra)
        return json.loads(r.stdout)["proposals"]

    def find(self, g, name, port, status=None):
        for p in self.proposals(g, name):
            if p["port"] == port and (status is None or p["status"] == status):
                return p
        return None

    def test_denials_proposal_accept_then_request_passes_without_restart(self):
        g = self.gateway(["--ocsf-logging", "true"])
        pol = os.path.join(self.tmp, "policy.yaml")
        with open(pol, "w") as f:
            f.write(policy_yaml(self.p1, self.box))
        out = os.path.join(self.box, "agent.out")
        g.cli("sandbox", "create", "--name", "px", "--policy", pol, "--", PY, "-c", AGENT,
              str(self.p1), str(self.p2), self.box)
        d = g.logs_dir("px")
        py = os.path.realpath(PY)

        # repeated denials become one proposal per (host, port, binary)
        p = wait_for(lambda: (lambda x: x if x and x["hit_count"] >= 3 else None)(
            self.find(g, "px", self.p1)), 60, "a proposal for localhost:%d" % self.p1)
        self.assertEqual(p["status"], "pending")
        self.assertEqual(p["host"], "localhost")
        self.assertEqual(p["binary"], py)
        self.assertEqual(p["rule_name"], "allow_localhost_%d" % self.p1)
        self.assertEqual(p["stage"], "forward")
        self.assertIn("127.0.0.1", p["allowed_ips"])
        self.assertIn("private or loopback destination", p["security_notes"])
        self.assertTrue(0.1 <= p["confidence"] <= 0.95, p)
        self.assertTrue(p["first_seen_ms"] <= p["last_seen_ms"], p)
        before = self.find(g, "px", self.p1)["hit_count"]
        wait_for(lambda: self.find(g, "px", self.p1)["hit_count"] > before, 30,
                 "hit counts merged across rounds")
        table = g.cli("sandbox", "proposals", "px").stdout
        self.assertRegex(table, r"(?m)^ID\s+STATUS\s+RULE\s+ENDPOINT\s+BINARY\s+HITS")
        self.assertRegex(table, r"%s\s+pending\s+allow_localhost_%d\s+localhost:%d\s+%s\s+\d+"
                         % (re.escape(p["id"]), self.p1, self.p1, re.escape(py)))
        self.assertTrue(all("a=403" == ln for ln in read(out).split() if ln.startswith("a=")))

        # accept through the CLI: the same request from the same process passes
        pid = g.sandbox_row("px")["pid"]
        r = g.cli("sandbox", "proposals", "accept", "px", p["id"])
        self.assertIn("proposal %s accepted" % p["id"], r.stdout)
        self.assertIn("policy version 2", r.stdout)
        wait_for(lambda: "a=200" in read(out).split(), 30, "the request allowed after accept")
        self.assertEqual(g.sandbox_row("px")["pid"], pid, "no restart")
        self.assertEqual(g.sandbox_row("px")["state"], "running")
        self.assertEqual(self.find(g, "px", self.p1)["status"], "accepted")
        self.assertEqual(g.cli("sandbox", "get", "px", "-o", "json").returncode, 0)
        self.assertEqual(json.loads(g.cli("sandbox", "get", "px", "-o", "json").stdout)
                         ["policy_version"], 2)
        again = g.cli("sandbox", "proposals", "accept", "px", p["id"], check=False)
        self.assertEqual(again.returncode, 1)
        self.assertIn("not pending", again.stderr)

        # reject the other one; a new denial after the decision reopens it
        wait_for(lambda: "phase1=done" in read(out).split(), 30, "phase 1 of the agent")
        q = self.find(g, "px", self.p2)
        self.assertIsNotNone(q, self.proposals(g, "px"))
        r = g.cli("sandbox", "proposals", "reject", "px", q["id"])
        self.assertIn("proposal %s rejected" % q["id"], r.stdout)
        self.assertEqual(self.find(g, "px", self.p2)["status"], "rejected")
        self.assertEqual([x["id"] for x in self.proposals(g, "px", "--status", "rejected")],
                         [q["id"]])
        with open(os.path.join(self.box, "again"), "w"):
            pass
        wait_for(lambda: "again=403" in read(out).split(), 30, "one more denial")
        back = wait_for(lambda: self.find(g, "px", self.p2, "pending"), 30,
                        "the rejected proposal reopened by a newer denial")
        self.assertEqual(back["id"], q["id"])
        self.assertEqual(back["hit_count"], 1)

        # bad input: a clear error naming what was wrong
        bad = g.cli("sandbox", "proposals", "accept", "px", "no-such-id", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("no-such-id", bad.stderr)
        bad = g.cli("sandbox", "proposals", "nobox", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("no sandbox with name 'nobox'", bad.stderr)

        # the supervisor's files
        log, ocsf = os.path.join(d, "openshell.log"), os.path.join(d, "openshell-ocsf.log")
        wait_for(lambda: "DENIAL_FLUSH" in codes(ocsf), 15, "DENIAL_FLUSH in the JSONL")
        ev = jsonl(ocsf)
        flush = [e for e in ev if e["metadata"]["event_code"] == "DENIAL_FLUSH"]
        self.assertTrue(flush)
        self.assertEqual(flush[0]["class_uid"], 0)
        self.assertGreaterEqual(flush[0]["unmapped"]["proposals"], 1)
        self.assertEqual(flush[0]["unmapped"]["rejected"], 0)
        c = codes(ocsf)
        self.assertEqual(c.count("PROC_LAUNCH"), 1, "one command, never restarted")
        self.assertGreaterEqual(c.count("FORWARD_DENY"), 3)
        self.assertGreaterEqual(c.count("FORWARD_ALLOW"), 1)
        reload = [e for e in ev if e["metadata"]["event_code"] == "POLICY_LOAD_GATEWAY"
                  and e.get("unmapped", {}).get("reload")]
        self.assertEqual(len(reload), 1)
        self.assertNotIn("DENIAL_FLUSH_FAILED", c)
        sh = read(log)
        self.assertRegex(sh, r"EVENT \[INFO\] denial flush: \d+ keys \(\d+ denials\), \d+ "
                             r"proposals submitted, gateway accepted \d+ rejected 0")
        self.assertRegex(sh, r"HTTP:GET \[INFO\] ALLOWED python3[.\d]*\(\d+\) -> GET "
                             r"http://localhost:%d/" % self.p1)

        # the gateway's files
        glog = os.path.join(g.data_dir, "openshell-gateway.log")
        gocsf = os.path.join(g.data_dir, "openshell-gateway-ocsf.log")
        gc = codes(gocsf)
        for code in ("GW_PROPOSALS_SUBMIT", "GW_PROPOSAL_ACCEPT", "GW_PROPOSAL_REJECT"):
            self.assertIn(code, gc)
        acc = [e for e in jsonl(gocsf) if e["metadata"]["event_code"] == "GW_PROPOSAL_ACCEPT"]
        self.assertEqual(len(acc), 1)
        self.assertEqual(acc[0]["class_uid"], 5019)
        self.assertEqual(acc[0]["unmapped"]["proposal_id"], p["id"])
        self.assertEqual(acc[0]["unmapped"]["new_version"], 2)
        gsh = read(glog)
        self.assertEqual(len(re.findall(
            r"CONFIG:ACCEPTED \[INFO\] proposal %s \(allow_localhost_%d\) accepted for sandbox px: "
            r"policy version 1 -> 2" % (re.escape(p["id"]), self.p1), gsh)), 1, gsh)
        self.assertEqual(len(re.findall(r"EVENT \[INFO\] proposal %s \(allow_localhost_%d\) "
                                        r"rejected for sandbox px" % (re.escape(q["id"]), self.p2),
                                        gsh)), 1)
        self.assertRegex(gsh, r"EVENT \[INFO\] proposals from sandbox px: \d+ accepted, "
                              r"0 rejected \(mechanistic\)")


    def test_submit_is_the_callers_sandbox_and_every_chunk_is_checked(self):
        """A credential holder (a compromised agent, say) calling the gateway
        directly: its sandbox is the credential's, bad chunks are refused one
        by one with reasons, operator methods stay closed to it."""
        import grpc
        os.environ.setdefault("OSH_PROTO_DIR", os.path.join(tse.SRC, "proto"))
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "integration"))
        import osh_itest
        pb, _ = osh_itest.stubs()
        # a supervisor wrapper that keeps a copy of its bootstrap (fd 3) in
        # boot-<sandbox id>.txt
        wrap = os.path.join(self.tmp, "sandbox-wrap.sh")
        with open(wrap, "w") as f:
            f.write("#!/bin/sh\nid=\nprev=\nfor a in \"$@\"; do\n"
                    "  [ \"$prev\" = --sandbox-id ] && id=$a; prev=$a\ndone\n"
                    "b=%s/boot-$id.txt\ncat <&3 > $b\nexec 3< $b\nexec %s \"$@\"\n"
                    % (self.tmp, SANDBOX))
        os.chmod(wrap, 0o755)
        g = self.gateway(["--ocsf-logging", "true", "--sandbox-bin", wrap])
        g.cli("sandbox", "create", "--name", "victim", "--", "sleep", "30")
        g.cli("sandbox", "create", "--name", "mine", "--", "sleep", "30")
        mine = g.sandbox_row("mine")["id"]
        victim = g.sandbox_row("victim")["id"]
        boot = os.path.join(self.tmp, "boot-%s.txt" % mine)
        cred = wait_for(lambda: (lambda t: t if "credential=" in t else None)(read(boot)), 15,
                        "the bootstrap copy")
        cred = re.search(r"credential=([0-9a-f]{64})", cred).group(1)

        def chunk(name, host, port, binary="/usr/bin/curl"):
            rule = pb.NetworkPolicyRule(endpoints=[pb.NetworkEndpoint(host=host, port=port)],
                                        binaries=[pb.NetworkBinary(path=binary)])
            return pb.PolicyChunk(rule_name=name, hit_count=5, confidence=7.5, last_seen_ms=1000,
                                  first_seen_ms=2000, proposed_rule=rule)
        req = pb.SubmitPolicyAnalysisRequest(
            sandbox_id=mine, name="victim", analysis_mode="mechanistic",
            proposed_chunks=[chunk("allow_ok_443", "ok.example", 443),
                             chunk("bad name!", "x.example", 443),
                             chunk("allow_star", "*", 443),
                             chunk("allow_port0", "y.example", 0),
                             pb.PolicyChunk(rule_name="allow_empty")])
        ch = grpc.insecure_channel(g.addr)
        submit = ch.unary_unary("/openshell.v1.OpenShell/SubmitPolicyAnalysis",
                                request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=pb.SubmitPolicyAnalysisResponse.FromString)
        key = "x-openshell-sandbox-credential"
        # no credential / another sandbox's id with this credential: refused
        with self.assertRaises(grpc.RpcError) as cm:
            submit(req, timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        other = pb.SubmitPolicyAnalysisRequest()
        other.CopyFrom(req)
        other.sandbox_id = victim
        with self.assertRaises(grpc.RpcError) as cm:
            submit(other, timeout=10, metadata=[(key, cred)])
        self.assertEqual(cm.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        # its own sandbox: one chunk stored, four refused with reasons
        r = submit(req, timeout=10, metadata=[(key, cred)])
        self.assertEqual((r.accepted, r.rejected), (1, 4), r)
        reasons = "\n".join(r.reasons)
        self.assertIn("rule_name 'bad name!' must be", reasons)
        self.assertIn("allow_star:", reasons)
        self.assertIn("allow_port0: endpoint port 0 out of range", reasons)
        self.assertIn("allow_empty: proposed_rule needs an endpoint with a host", reasons)
        # stored under the caller's sandbox, not the `name` it claimed
        self.assertEqual(self.proposals(g, "victim"), [])
        got = self.proposals(g, "mine")
        self.assertEqual([(p["rule_name"], p["hit_count"]) for p in got], [("allow_ok_443", 5)])
        self.assertEqual(got[0]["confidence"], 1.0, "clamped")
        self.assertLessEqual(got[0]["first_seen_ms"], got[0]["last_seen_ms"])
        # an operator method with a sandbox credential: refused
        lst = ch.unary_unary("/openshell.v1.OpenShell/GetPolicyProposals",
                             request_serializer=lambda m: m.SerializeToString(),
                             response_deserializer=pb.GetPolicyProposalsResponse.FromString)
        with self.assertRaises(grpc.RpcError) as cm:
            lst(pb.GetPolicyProposalsRequest(name="mine"), timeout=10, metadata=[(key, cred)])
        self.assertEqual(cm.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        # a bad status filter from the CLI side: named
        with self.assertRaises(grpc.RpcError) as cm:
            lst(pb.GetPolicyProposalsRequest(name="mine", status="maybe"), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("status 'maybe'", cm.exception.details())
        ch.close()
        ev = jsonl(os.path.join(g.data_dir, "openshell-gateway-ocsf.log"))
        sub = [e for e in ev if e["metadata"]["event_code"] == "GW_PROPOSALS_SUBMIT"]
        self.assertEqual(len(sub), 1)
        self.assertEqual(sub[0]["unmapped"]["sandbox_id"], mine)
        self.assertEqual((sub[0]["unmapped"]["accepted"], sub[0]["unmapped"]["rejected"]), (1, 4))
        self.assertTrue(any(e["metadata"]["event_code"] == "GW_AUTH_REFUSED" for e in ev))


class FlushFailure(unittest.TestCase):
    def setUp(self):
        self.dir = osh_testdir.TestDir("propfail")
        self.tmp = self.dir.path
        os.chmod(self.tmp, 0o755)
        self.box = os.path.join(self.tmp, "box")
        os.mkdir(self.box)
        os.chmod(self.box, 0o777)
        self.o1 = start_origin()
        self.sup = None

    def tearDown(self):
        if self.sup and self.sup.poll() is None:
            self.sup.send_signal(signal.SIGTERM)
            self.sup.wait(timeout=30)
        self.o1.shutdown()
        self.o1.server_close()
        self.dir.finish()

    def test_unreachable_gateway_round_failed_and_kept(self):
        port = self.o1.server_address[1]
        pol = os.path.join(self.tmp, "policy.yaml")
        with open(pol, "w") as f:
            f.write(policy_yaml(port, self.box))
        agent = ("import os, urllib.request, urllib.error, time\n"
                 "os.environ['no_proxy'] = os.environ['NO_PROXY'] = ''\n"
                 "op = urllib.request.build_opener(urllib.request.ProxyHandler("
                 "{'http': os.environ['HTTP_PROXY']}))\n"
                 "for i in range(3):\n"
                 "    try:\n"
                 "        op.open('http://localhost:%d/', timeout=10)\n"
                 "    except urllib.error.HTTPError as e:\n"
                 "        pass\n"
                 "time.sleep(60)\n" % port)
        env = dict(os.environ, OPENSHELL_DENIAL_FLUSH_INTERVAL="200ms",
                   OPENSHELL_POLL_INTERVAL="10s")
        self.sup = subprocess.Popen(
            [SANDBOX, "--gateway", "unix:%s/no-gateway.sock" % self.tmp, "--sandbox-id",
             "fail-1", "--policy", pol, "--log-dir", self.tmp, "--", PY, "-c", agent],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        log = os.path.join(self.tmp, "openshell.log")
        pat = re.compile(r"EVENT \[MED\] denial flush failed: SubmitPolicyAnalysis: UNAVAILABLE"
                         r".*; 1 keys kept for the next round")
        wait_for(lambda: pat.search(read(log)), 30, "a failed round in %s" % log)
        # the next round carries the kept key again (and fails again, saying so)
        wait_for(lambda: len(pat.findall(read(log))) >= 2, 30, "the kept key sent again")
        self.assertEqual(len(re.findall(r"HTTP:GET \[MED\] DENIED python3", read(log))), 3)
        self.sup.send_signal(signal.SIGTERM)
        self.assertEqual(self.sup.wait(timeout=30), 128 + signal.SIGTERM)


if __name__ == "__main__":
    unittest.main()
