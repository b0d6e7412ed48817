#!/usr/bin/python3
"""End-to-end: curl inside a sandbox through the proxy's TLS termination and REST rules.

DESIGN
Real binaries as root: the gateway starts the supervisor (namespace, proxy,
confinement) and the JSONL export is on, so every outcome is asserted in
both files. A test CA (made here with the openssl CLI) signs the certificate
of an HTTPS origin on the host's loopback (Python ssl server, HTTP/1.1
keep-alive); the supervisor trusts that CA for origins through
OPENSHELL_L7_UPSTREAM_CA (the --l7-upstream-ca flag's variable, inherited
from the gateway's environment). A second origin presents a certificate from
a CA nobody trusts. The command in the sandbox uses curl, which finds the
sandbox CA through SSL_CERT_FILE / CURL_CA_BUNDLE, and `openssl s_client`
for an SNI that does not match its CONNECT host. It tries, in order:
  - keep-alive on the enforcing endpoint (localhost): GET, GET, POST on one
    connection: 200, 200 (reused), 403 with the JSON body and the policy
    header;
  - an audited DELETE on the audit endpoint (127.0.0.1): forwarded, 200;
  - an origin whose certificate does not verify: 502, never a downgrade;
  - an SNI mismatch: 421 inside TLS.
Traffic goes only to loopback and the sandbox's own veth. Every wait polls a
condition with a deadline.
"""
import http.server
import os
import re
import ssl
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import test_supervisor_e2e as tse  # noqa: E402  (its TestCases are not re-run here)
import osh_testdir  # noqa: E402,F401  (imported by tse; keeps the census archive)
from test_supervisor_e2e import jsonl, read, wait_for  # noqa: E402

CURL = "/usr/bin/curl"
OPENSSL = "/usr/bin/openssl"


class Origin(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        out = ("%s %s %d via=%s\n" % (self.command, self.path, len(body),
                                      self.headers.get("Via", "-"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_DELETE = do_PUT = answer

    def log_message(self, *args):
        pass


def openssl(*args):
    subprocess.run([OPENSSL] + list(args), check=True, capture_output=True)


def make_pki(d, name):
    """A CA and a server certificate for localhost / 127.0.0.1 signed by it."""
    ca, key = os.path.join(d, name + "-ca.pem"), os.path.join(d, name + "-ca.key")
    skey, csr = os.path.join(d, name + "-srv.key"), os.path.join(d, name + "-srv.csr")
    crt, ext = os.path.join(d, name + "-srv.pem"), os.path.join(d, name + "-ext.cnf")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", ca, "-days", "2", "-subj", "/CN=%s test CA" % name)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", skey, "-out", csr, "-subj", "/CN=localhost")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", key, "-CAcreateserial", "-out",
            crt, "-days", "2", "-extfile", ext)
    return ca, crt, skey


def https_origin(crt, key):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def policy_yaml(o, bad, box):
    return ("version: 1\n"
            "filesystem_policy: {read_write: [%(box)s]}\n"
            "network_policies:\n"
            "  api:\n"
            "    endpoints:\n"
            "      - host: localhost\n"
            "        port: %(o)d\n"
            "        allowed_ips: [127.0.0.1]\n"
            "        protocol: rest\n"
            "        enforcement: enforce\n"
            "        rules:\n"
            "          - allow: {method: GET, path: \"/repos/**\"}\n"
            "      - host: 127.0.0.1\n"
            "        port: %(o)d\n"
            "        allowed_ips: [127.0.0.1]\n"
            "        protocol: rest\n"
            "        enforcement: audit\n"
            "        access: read-only\n"
            "      - host: localhost\n"
            "        port: %(bad)d\n"
            "        allowed_ips: [127.0.0.1]\n"
            "        protocol: rest\n"
            "        access: full\n"
            "    binaries:\n"
            "      - path: %(curl)s\n"
            "      - path: %(openssl)s\n" % {"o": o, "bad": bad, "box": box, "curl": CURL,
                                              "openssl": OPENSSL})


# The command in the sandbox. $1 = origin port, $2 = untrusted origin port, $3 = output.
# (--noproxy "": the sandbox NO_PROXY names localhost, which here is the origin
# behind the proxy.)
AGENT = r"""
o=$1; b=$2; out=$3
c() { %(curl)s -sS -m 10 --noproxy '' -o /dev/null -w '%%{http_code}' "$@" 2>>$out.err; }
echo "ca=$SSL_CERT_FILE $CURL_CA_BUNDLE $REQUESTS_CA_BUNDLE $NODE_EXTRA_CA_CERTS" >> $out
echo "keepalive=$(%(curl)s -sS -m 10 --noproxy '' -o /dev/null -w '%%{http_code}:%%{num_connects} ' \
  https://localhost:$o/repos/a --next --noproxy '' -o /dev/null -w '%%{http_code}:%%{num_connects} ' \
  https://localhost:$o/repos/b?page=2 --next --noproxy '' -o $out.deny -D $out.denyhead \
  -w '%%{http_code}:%%{num_connects}' -X POST -d x=1 https://localhost:$o/repos/a \
  2>>$out.err)" >> $out
echo "audit=$(c -X DELETE https://127.0.0.1:$o/items/1)" >> $out
echo "badcert=$(c https://localhost:$b/repos/x)" >> $out
echo "sni=$(printf 'GET /repos/x HTTP/1.1\r\nHost: localhost\r\n\r\n' | \
  %(openssl)s s_client -quiet -proxy ${HTTPS_PROXY#http://} -connect localhost:$o \
  -servername evil.test 2>/dev/null | head -c 12)" >> $out
echo done=1 >> $out
exec sleep 60
""" % {"curl": CURL, "openssl": OPENSSL}


def result(out, key):
    m = re.search(r"^%s=(.*)$" % key, read(out), re.M)
    return m.group(1) if m else None


class L7InSandbox(unittest.TestCase):
    validate = tse.E2E.validate
    gateway = tse.E2E.gateway
    create = tse.E2E.create

    def setUp(self):
        with open("/proc/sys/net/netfilter/nf_log_all_netns", "w") as f:
            f.write("1")  # the bypass monitor's host requirement (docs/network.md)
        tse.E2E.setUp(self)
        self.pki = os.path.join(self.tmp, "pki")
        os.mkdir(self.pki)
        ca, crt, key = make_pki(self.pki, "trusted")
        _, bcrt, bkey = make_pki(self.pki, "rogue")
        self.origin = https_origin(crt, key)
        self.bad = https_origin(bcrt, bkey)
        self.saved = os.environ.get("OPENSHELL_L7_UPSTREAM_CA")
        os.environ["OPENSHELL_L7_UPSTREAM_CA"] = ca  # inherited by gateway -> supervisor

    def tearDown(self):
        if self.saved is None:
            os.environ.pop("OPENSHELL_L7_UPSTREAM_CA", None)
        else:
            os.environ["OPENSHELL_L7_UPSTREAM_CA"] = self.saved
        for s in (self.origin, self.bad):
            s.shutdown()
            s.server_close()
        tse.E2E.tearDown(self)

    def test_tls_termination_rules_audit_keepalive_and_refusals(self):
        o, b = self.origin.server_address[1], self.bad.server_address[1]
        g = self.gateway(["--ocsf-logging", "true"])
        pol = os.path.join(self.tmp, "policy.yaml")
        with open(pol, "w") as f:
            f.write(policy_yaml(o, b, self.box))
        out = os.path.join(self.box, "agent.out")
        g.cli("sandbox", "create", "--name", "l7", "--policy", pol, "--", "sh", "-c", AGENT,
              "agent", str(o), str(b), out)
        d = g.logs_dir("l7")
        wait_for(lambda: result(out, "done") is not None, 90, "the agent's results in %s" % out)
        got = read(out) + read(out + ".err") if os.path.exists(out + ".err") else read(out)

        # on the wire
        ca = result(out, "ca").split()
        self.assertEqual(len(ca), 4, got)
        self.assertEqual(len(set(ca)), 1, got)
        self.assertRegex(ca[0], r"^/tmp/openshell-tls\.\w+/ca-bundle\.pem$")
        self.assertEqual(result(out, "keepalive"), "200:1 200:0 403:0", got)
        deny = read(out + ".deny")
        self.assertIn('"error":"policy_denied"', deny)
        self.assertIn('"policy":"api"', deny)
        self.assertIn('"rule":"POST /repos/a"', deny)
        self.assertIn("X-OpenShell-Policy: api", read(out + ".denyhead"))
        self.assertEqual(result(out, "audit"), "200", got)
        self.assertEqual(result(out, "badcert"), "502", got)
        self.assertEqual(result(out, "sni"), "HTTP/1.1 421", got)

        # in both files
        ocsf, log = os.path.join(d, "openshell-ocsf.log"), os.path.join(d, "openshell.log")
        wait_for(lambda: "L7_SNI_MISMATCH" in read(ocsf), 15, "the SNI event")
        by = {}
        for e in jsonl(ocsf):
            by.setdefault(e["metadata"]["event_code"], []).append(e)
        allow = by["L7_REQUEST_ALLOW"]
        self.assertEqual(sorted(e["http_request"]["url"]["path"] for e in allow),
                         ["/repos/a", "/repos/b"])
        self.assertTrue(all(e["http_request"]["url"]["scheme"] == "https" for e in allow))
        self.assertTrue(all(e["actor"]["process"]["path"] == os.path.realpath(CURL)
                            for e in allow))
        q = [e for e in allow if e["http_request"]["url"]["path"] == "/repos/b"][0]
        self.assertEqual(q["http_request"]["url"]["query_string"], "page=2")
        dn = by["L7_REQUEST_DENY"]
        self.assertEqual(len(dn), 1)
        self.assertEqual(dn[0]["http_response"]["code"], 403)
        self.assertEqual(dn[0]["status_detail"], "POST /repos/a not permitted by policy")
        self.assertEqual(dn[0]["firewall_rule"]["type"], "l7")
        au = by["L7_REQUEST_AUDIT"]
        self.assertEqual(len(au), 1)
        self.assertEqual(au[0]["action_id"], 1)        # allowed ...
        self.assertEqual(au[0]["disposition_id"], 17)  # ... and logged as an audit
        self.assertEqual(au[0]["unmapped"]["l7_decision"], "audit")
        self.assertEqual(au[0]["firewall_rule"]["type"], "l7-audit")
        self.assertEqual(au[0]["status_detail"], "DELETE /items/1 not permitted by policy")
        up = by["L7_TLS_UPSTREAM_FAIL"]
        self.assertEqual(len(up), 1)
        self.assertIn("certificate verify failed", up[0]["status_detail"])
        self.assertEqual(by["L7_SNI_MISMATCH"][0]["unmapped"]["sni"], "evil.test")
        self.assertEqual(len(by["L7_CA_READY"]), 1)
        self.assertEqual(by["L7_CA_READY"][0]["unmapped"]["ca_bundle"], ca[0])
        pol_ev = [e for e in jsonl(ocsf) if "enforced" in e.get("unmapped", {})]
        self.assertTrue(pol_ev and any("l7" in e["unmapped"]["enforced"] for e in pol_ev),
                        [e["unmapped"]["enforced"] for e in pol_ev])

        sh = read(log)
        for pat, n in ((r"HTTP:GET \[INFO\] ALLOWED curl\(\d+\) -> GET "
                        r"https://localhost:%d/repos/a \[policy:api engine:l7\]" % o, 1),
                       (r"HTTP:POST \[MED\] DENIED curl\(\d+\) -> POST "
                        r"https://localhost:%d/repos/a .*not permitted by policy" % o, 1),
                       (r"HTTP:DELETE \[LOW\] ALLOWED curl\(\d+\) -> DELETE "
                        r"https://127\.0\.0\.1:%d/items/1 \[policy:api engine:l7-audit\]" % o,
                        1),
                       (r"engine:l7-audit", 1),
                       (r"NET:FAIL \[MED\] curl\(\d+\) -> localhost:%d .*certificate verify "
                        r"failed" % b, 1),
                       (r"NET:REFUSE \[MED\] DENIED openssl\(\d+\) -> localhost:%d .*TLS SNI "
                        r"evil\.test" % o, 1),
                       (r"LIFECYCLE:START \[INFO\] openshell-sandbox/l7 success", 1)):
            self.assertEqual(len(re.findall(pat, sh)), n, "%s in\n%s" % (pat, sh))


if __name__ == "__main__":
    unittest.main(verbosity=2)
