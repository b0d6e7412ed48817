#!/usr/bin/python3
"""End-to-end: inference.local from inside a sandbox (docs/l7.md).

DESIGN
Real binaries as root: a gateway (OCSF JSONL on) starts a supervisor with a
network namespace, the proxy and confinement. The supervisor gets its routes
file through OPENSHELL_INFERENCE_ROUTES and the route's key through
api_key_env, both inherited from the gateway's environment, the way an
operator would set them. A mock model server (Python, 127.0.0.1 only) records
every request. The command in the sandbox (curl as the sandbox user) sends a
chat completion to inference.local (plain HTTP in the tunnel, and over
https://, TLS terminated with the sandbox CA) with its own bogus
Authorization and model, asks for a path that is not an inference path, and dumps its own
environment. Asserted: the mock got the supervisor's key (and not the
agent's) and the route's model; the agent got the mock's answer and a 403
JSON body; the agent's environment holds no key; the events are in
openshell.log and in openshell-ocsf.log (every line schema-valid through
osh_testdir), and the key is in no log. A refused routes file stops the
supervisor before the command starts, naming file, line and key.
Traffic goes only to loopback and to the sandbox's own veth; every wait
polls a condition with a deadline.
"""
import http.server
import json
import os
import re
import stat
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
KEY = "sk-e2e-infer-7f3a9c-never-in-the-sandbox"
KEY_VAR = "OSH_E2E_MODEL_KEY"
ROUTE_MODEL = "llama-e2e-8b"
ANSWER = b'{"id":"cmpl-1","choices":[{"message":{"role":"assistant","content":"hello"}}]}'


class Model(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = []  # (method, path, headers dict, body) of every request
    lock = threading.Lock()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with Model.lock:
            Model.seen.append((self.command, self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, *args):
        pass


# The command in the sandbox: $1 = output dir (writable by the sandbox user).
AGENT = r"""
out=$1
env > $out/env.txt
%(curl)s -sS -m 20 -p -o $out/chat.body -w '%%{http_connect}/%%{http_code}' \
  -H 'Authorization: Bearer agent-own-token' -H 'Content-Type: application/json' \
  -d '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}' \
  http://inference.local/v1/chat/completions > $out/chat.code 2>$out/chat.err
%(curl)s -sS -m 20 -o $out/tls.body -w '%%{http_code}' \
  -H 'Content-Type: application/json' -d '{"model":"x","messages":[]}' \
  https://inference.local/v1/chat/completions > $out/tls.code 2>$out/tls.err
%(curl)s -sS -m 20 -p -o $out/deny.body -w '%%{http_connect}/%%{http_code}' \
  http://inference.local/etc/passwd > $out/deny.code 2>$out/deny.err
echo done > $out/done
exec sleep 60
""" % {"curl": CURL}


def codes(path):
    return [e.get("metadata", {}).get("event_code") for e in jsonl(path)]


class InferenceLocal(unittest.TestCase):
    validate = tse.E2E.validate
    gateway = tse.E2E.gateway

    def setUp(self):
        tse.E2E.setUp(self)
        Model.seen = []
        self.model = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Model)
        threading.Thread(target=self.model.serve_forever, daemon=True).start()
        self.routes = os.path.join(self.tmp, "routes.yaml")
        with open(self.routes, "w") as f:
            f.write("routes:\n"
                    "  - name: e2e-local\n"
                    "    endpoint: http://127.0.0.1:%d/v1\n"
                    "    model: %s\n"
                    "    protocols: [openai_chat_completions, model_discovery]\n"
                    "    api_key_env: %s\n" % (self.model.server_address[1], ROUTE_MODEL,
                                              KEY_VAR))
        self.saved = {k: os.environ.get(k) for k in ("OPENSHELL_INFERENCE_ROUTES", KEY_VAR)}

    def tearDown(self):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self.model.shutdown()
        self.model.server_close()
        tse.E2E.tearDown(self)

    def test_routed_with_supervisor_key_denied_path_and_no_key_in_sandbox(self):
        # the gateway's environment is the supervisor's: the operator's setting
        os.environ["OPENSHELL_INFERENCE_ROUTES"] = self.routes
        os.environ[KEY_VAR] = KEY
        g = self.gateway(["--ocsf-logging", "true"])
        pol = os.path.join(self.tmp, "policy.yaml")
        with open(pol, "w") as f:
            f.write("version: 1\nfilesystem_policy: {read_write: [%s]}\n" % self.box)
        g.cli("sandbox", "create", "--name", "infer", "--policy", pol, "--", "sh", "-c",
              AGENT, "agent", self.box)
        d = g.logs_dir("infer")
        wait_for(lambda: os.path.exists(os.path.join(self.box, "done")), 60,
                 "the agent's results in %s" % self.box)

        def box(name):
            return read(os.path.join(self.box, name))

        # the wire: answer relayed, refusal as JSON
        self.assertEqual(box("chat.code"), "200/200", box("chat.err"))
        self.assertEqual(box("chat.body").encode(), ANSWER)
        # https://inference.local: TLS terminated with the sandbox CA, which
        # the command trusts through the bundle variables
        self.assertEqual(box("tls.code"), "200", box("tls.err"))
        self.assertEqual(box("tls.body").encode(), ANSWER)
        self.assertIn("SSL_CERT_FILE=", box("env.txt"))
        self.assertEqual(box("deny.code"), "200/403", box("deny.err"))
        self.assertEqual(json.loads(box("deny.body")),
                         {"error": "connection not allowed by policy"})
        # what the model got: the supervisor's key and the route's model
        self.assertEqual(len(Model.seen), 2, Model.seen)
        self.assertEqual(json.loads(Model.seen[1][3])["model"], ROUTE_MODEL)
        self.assertEqual(Model.seen[1][2].get("Authorization"), "Bearer " + KEY)
        method, path, headers, body = Model.seen[0]
        self.assertEqual((method, path), ("POST", "/v1/chat/completions"))
        self.assertEqual(headers.get("Authorization"), "Bearer " + KEY)
        self.assertNotIn("agent-own-token", json.dumps(headers))
        req = json.loads(body)
        self.assertEqual(req["model"], ROUTE_MODEL)
        self.assertEqual(req["messages"], [{"role": "user", "content": "hi"}])
        # the agent's environment: no key, no key variable
        env = box("env.txt")
        self.assertIn("HTTP_PROXY=http://10.", env)
        self.assertNotIn(KEY, env)
        self.assertNotIn(KEY_VAR, env)

        ocsf = os.path.join(d, "openshell-ocsf.log")
        log = os.path.join(d, "openshell.log")
        wait_for(lambda: "INFER_DENY" in codes(ocsf), 15, "INFER_DENY in %s" % ocsf)
        by = {}
        for e in jsonl(ocsf):
            by.setdefault(e["metadata"]["event_code"], []).append(e)
        self.assertEqual(by["INFER_ROUTES_LOADED"][0]["unmapped"]["route_names"], "e2e-local")
        self.assertEqual(len(by["INFER_INTERCEPT"]), 3)  # one per tunnel
        self.assertEqual(sorted(e["unmapped"]["tls"] for e in by["INFER_INTERCEPT"]),
                         [False, False, True])
        routed, routed_tls = by["INFER_ROUTE"]
        self.assertEqual(routed_tls["http_request"]["url"]["scheme"], "https")
        self.assertEqual(routed_tls["http_request"]["url"]["port"], 443)
        self.assertEqual(routed["http_response"]["code"], 200)
        self.assertEqual(routed["firewall_rule"]["name"], "e2e-local")
        self.assertEqual(routed["unmapped"]["model"], ROUTE_MODEL)
        self.assertEqual(routed["actor"]["process"]["path"], os.path.realpath(CURL))
        self.assertEqual(routed["http_request"]["url"]["path"], "/v1/chat/completions")
        (denied,) = by["INFER_DENY"]
        self.assertEqual(denied["http_response"]["code"], 403)
        self.assertEqual(denied["http_request"]["url"]["path"], "/etc/passwd")
        sh = read(log)
        for pat in (r"CONFIG:LOADED \[INFO\] inference routes from \S+: 1 route \(e2e-local\)",
                    r'FINDING:ALLOWED \[INFO\] "Inference request intercepted"',
                    r"HTTP:POST \[INFO\] ALLOWED curl\(\d+\) -> POST "
                    r"http://inference\.local/v1/chat/completions \[policy:e2e-local "
                    r"engine:inference_route\]",
                    r"HTTP:POST \[INFO\] ALLOWED curl\(\d+\) -> POST "
                    r"https://inference\.local/v1/chat/completions \[policy:e2e-local",
                    r"HTTP:GET \[MED\] DENIED curl\(\d+\) -> GET http://inference\.local/etc/passwd"
                    r" \[policy:- engine:inference_route\] \[reason:connection not allowed"):
            self.assertEqual(len(re.findall(pat, sh)), 1 if "LOADED" in pat or "HTTP" in pat
                             else 3, "%s in\n%s" % (pat, sh))
        # the key is in no file the supervisor or the gateway wrote
        for root, _, files in os.walk(self.tmp):
            for name in files:
                p = os.path.join(root, name)
                if (p.startswith(self.box) or name == "routes.yaml" or
                        not stat.S_ISREG(os.lstat(p).st_mode)):
                    continue
                with open(p, "rb") as f:
                    self.assertNotIn(KEY.encode(), f.read(), p)


class RoutesRefused(unittest.TestCase):
    """A routes file that cannot be used: the supervisor does not start."""

    def setUp(self):
        self.dir = osh_testdir.TestDir("infer")
        self.tmp = self.dir.path

    def tearDown(self):
        self.dir.finish()

    def run_sup(self, routes_text, extra=()):
        routes = os.path.join(self.tmp, "routes.yaml")
        with open(routes, "w") as f:
            f.write(routes_text)
        env = dict(os.environ, OPENSHELL_NETNS="off", OSH_E2E_KEY="k")
        r = subprocess.run([SANDBOX, "--log-dir", self.tmp, "--inference-routes", routes] +
                           list(extra) + ["--", "sh", "-c", "echo started"],
                           capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(osh_testdir.sanitizer_reports(r.stderr), [], r.stderr)
        return r, routes

    def test_bad_file_names_file_line_and_key(self):
        r, routes = self.run_sup("routes:\n  - name: a\n    endpoint: http://127.0.0.1:9\n"
                                 "    model: m\n    api_key: k\n    protocols: [chat]\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("started", r.stdout)
        self.assertIn("%s:6: routes[0].protocols: unknown protocol 'chat'" % routes, r.stderr)
        log = read(os.path.join(self.tmp, "openshell.log"))
        self.assertRegex(log, r"CONFIG:REFUSED \[HIGH\] inference routes refused: %s:6: "
                              r"routes\[0\]\.protocols" % re.escape(routes))

    def test_key_variable_passed_to_the_command_is_refused(self):
        r, routes = self.run_sup("routes:\n  - name: a\n    endpoint: http://127.0.0.1:9\n"
                                 "    model: m\n    api_key_env: OSH_E2E_KEY\n"
                                 "    protocols: [model_discovery]\n",
                                 ["--pass-env", "OSH_E2E_KEY"])
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("started", r.stdout)
        self.assertIn("routes[0].api_key_env: OSH_E2E_KEY is also passed to the command "
                      "(--pass-env)", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
