#!/usr/bin/python3
"""End-to-end tests of the sandbox's network namespace (supervisor/net).

DESIGN
Real binaries as root: every sandbox gets its own network namespace, veth
pair and nftables rules. The command inside learns the host end of its veth
from its default route and connects there on a port that is not the
proxy's: the rules refuse it and the bypass monitor must report exactly one
attempt (one BYPASS_DETECT + one BYPASS_DETECT_FINDING) in openshell.log, in
openshell-ocsf.log (schema-valid, checked in tearDown) and in `openshell
sandbox logs`. Exit paths (normal, --timeout, SIGTERM, SIGKILL of the
supervisor with an orphan holding the namespace) must leave no interface
behind; a SIGKILLed supervisor's leftovers are removed by the next start.
Traffic goes only to the sandbox's own veth addresses. Every wait polls a
condition with a deadline.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import shutil
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_supervisor_e2e as tse  # noqa: E402  (its TestCases are not re-run here)
from test_supervisor_e2e import SANDBOX, jsonl, keep_logs, pid_alive, read, sandbox_writable, wait_for  # noqa: E402

# The command inside the sandbox: print what it sees, then try to bypass the
# proxy by connecting straight to the host end of its veth on port 9.
PROBE = r"""
import os, socket, sys
gw = [socket.inet_ntoa(bytes.fromhex(f[2])[::-1]) for f in
      (l.split() for l in open("/proc/net/route")) if f[1] == "00000000"]
print("gw=%s" % (gw[0] if gw else "none"))
print("http_proxy=%s" % os.environ.get("HTTP_PROXY", ""))
s = socket.socket()
s.settimeout(10)
try:
    s.connect((gw[0], 9))
    print("bypass=connected")
except ConnectionRefusedError:
    print("bypass=refused")
except OSError as e:
    print("bypass=%s" % e)
sys.stdout.flush()
"""


# The host-side index of the sandbox's veth, as the command sees it ("eth0@ifN";
# /sys shows the host's devices: it is not remounted in the namespace).
IFLINK = "/usr/sbin/ip -o link show eth0 | sed -n 's/.*eth0@if\\([0-9]*\\).*/iflink=\\1/p'"


def ensure_nf_log():
    """The monitor needs LOG lines from namespaces (docs/network.md); CI sets it."""
    with open("/proc/sys/net/netfilter/nf_log_all_netns", "w") as f:
        f.write("1")


def shared_dir(parent):
    """A directory the confined command (the sandbox user) can write: the
    test's own temp dir is root's 0700 (docs/confinement.md)."""
    os.chmod(parent, 0o711)
    d = os.path.join(parent, "shared")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o777)
    return d


def links():
    """ifindex -> name of the host's interfaces."""
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {int(m.group(1)): m.group(2)
            for m in re.finditer(r"^(\d+): ([^:@]+)", out, re.M)}


def codes(path):
    return [e.get("metadata", {}).get("event_code") for e in jsonl(path)]


class Network(unittest.TestCase):
    # The gateway fixture of the supervisor e2e (not its tests).
    setUp = tse.E2E.setUp
    tearDown = tse.E2E.tearDown
    validate = tse.E2E.validate
    gateway = tse.E2E.gateway
    create = tse.E2E.create

    def test_bypass_reported_once_in_both_files_and_cli(self):
        ensure_nf_log()
        g = self.gateway(["--ocsf-logging", "true"])
        out = os.path.join(shared_dir(self.tmp), "probe.out")
        d = self.create(g, "bypass", ["sh", "-c", "/usr/bin/python3 -c '%s' > %s 2>&1; sleep 30"
                                      % (PROBE.replace("'", "'\\''"), out)])
        wait_for(lambda: "bypass=" in read(out), 20, "the probe's result in %s" % out)
        self.assertIn("bypass=refused", read(out))
        gw = re.search(r"gw=(\S+)", read(out)).group(1)
        self.assertTrue(gw.startswith("10."), read(out))
        ocsf = os.path.join(d, "openshell-ocsf.log")
        log = os.path.join(d, "openshell.log")
        wait_for(lambda: "BYPASS_DETECT_FINDING" in codes(ocsf), 15, "the finding in JSONL")
        for c in ("NETNS_READY", "NET_RULES_INSTALLED", "BYPASS_MONITOR_START"):
            self.assertEqual(codes(ocsf).count(c), 1, c)
        self.assertEqual(codes(ocsf).count("BYPASS_DETECT"), 1)
        self.assertEqual(codes(ocsf).count("BYPASS_DETECT_FINDING"), 1)
        ev = [e for e in jsonl(ocsf) if e["metadata"]["event_code"] == "BYPASS_DETECT"][0]
        self.assertEqual(ev["dst_endpoint"], {"ip": gw, "port": 9})
        self.assertEqual(ev["observation_point_id"], 1)
        self.assertEqual(ev["actor"]["process"]["name"], "python3")
        fi = [e for e in jsonl(ocsf)
              if e["metadata"]["event_code"] == "BYPASS_DETECT_FINDING"][0]["finding_info"]
        self.assertEqual(fi["attacks"][0]["sub_technique"]["uid"], "T1090.003")
        self.assertEqual(fi["attacks"][0]["tactic"]["uid"], "TA0011")
        sh = read(log)
        self.assertEqual(len(re.findall(r"NET:REFUSE \[MED\] DENIED python3\(\d+\) -> %s:9/tcp"
                                        % re.escape(gw), sh)), 1, sh)
        self.assertEqual(sh.count('FINDING:BLOCKED [MED] "Proxy Bypass Detected"'), 1, sh)
        cli = wait_for(lambda: (lambda t: t if "Proxy Bypass Detected" in t else None)(
            g.cli("sandbox", "logs", "bypass").stdout), 15, "the finding in sandbox logs")
        self.assertEqual(len(re.findall(r"NET:REFUSE .*-> %s:9/tcp" % re.escape(gw), cli)), 1,
                         cli)
        # policy events list network as enforced
        pol = [e for e in jsonl(ocsf) if "enforced" in e.get("unmapped", {})]
        self.assertTrue(pol and all("network" in e["unmapped"]["enforced"] for e in pol), pol)


class NetworkStandalone(unittest.TestCase):
    """Exit paths of a standalone supervisor: the host end of the veth goes away."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="osh-net-")
        # the command runs as the unprivileged sandbox user (docs/confinement.md)
        # and writes its findings here
        os.chmod(self.tmp, 0o777)
        self.orphans = []

    def tearDown(self):
        for pid in self.orphans:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        keep_logs(self.tmp, self.id())
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log(self):
        return read(os.path.join(self.tmp, "openshell.log"))

    def sup(self, *cmd, extra=()):
        return subprocess.Popen([SANDBOX, "--log-dir", self.tmp] + list(extra) + ["--"]
                                + list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)

    def host_end(self, out):
        """The host-side name of the sandbox's veth (its peer index inside)."""
        idx = int(wait_for(lambda: (lambda m: m.group(1) if m else None)(
            re.search(r"iflink=(\d+)", read(out))), 15, "iflink in %s" % out))
        name = links().get(idx)
        self.assertTrue(name and name.startswith("osh-"), (idx, links()))
        return idx, name

    def run_case(self, cmd, extra=(), stop=None):
        out = sandbox_writable(os.path.join(self.tmp, "child.out"))
        p = self.sup("sh", "-c", IFLINK + " > %s; %s"
                     % (out, cmd), extra=extra)
        idx, name = self.host_end(out)
        if stop:
            stop(p)
        p.wait(timeout=30)
        self.assertNotIn(idx, links(), "%s left behind" % name)
        self.assertIn("LIFECYCLE:STOP [INFO] openshell-sandbox/net success", self.log())
        return p.returncode

    def test_normal_exit_tears_down(self):
        fifo = os.path.join(self.tmp, "go")
        os.mkfifo(fifo)

        def release(p):
            with open(fifo, "w") as f:  # the command waits for this line, then exits 0
                f.write("go\n")
        self.assertEqual(self.run_case("read x < %s; exit 0" % fifo, stop=release), 0)

    def test_timeout_tears_down(self):
        self.assertEqual(self.run_case("exec sleep 30", extra=["--timeout", "1s"]), 124)

    def test_sigterm_tears_down(self):
        rc = self.run_case("exec sleep 30", stop=lambda p: p.send_signal(signal.SIGTERM))
        self.assertEqual(rc, 128 + signal.SIGTERM)

    def test_sigkilled_supervisor_leftovers_cleaned_at_next_start(self):
        out = sandbox_writable(os.path.join(self.tmp, "child.out"))
        # an orphan escapes the process group and keeps the namespace alive
        p = self.sup("sh", "-c", IFLINK + " > %s; "
                     "setsid sleep 60 & echo orphan=$! >> %s; exec sleep 60" % (out, out))
        idx, name = self.host_end(out)
        orphan = int(wait_for(lambda: (lambda m: m.group(1) if m else None)(
            re.search(r"orphan=(\d+)", read(out))), 15, "the orphan's pid"))
        self.orphans.append(orphan)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        self.assertTrue(pid_alive(orphan))
        self.assertIn(idx, links(), "the orphan holds %s" % name)
        r = subprocess.run([SANDBOX, "--log-dir", self.tmp, "--", "true"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(idx, links(), "%s removed by the next start" % name)
        self.assertIn("LIFECYCLE:REMOVE [LOW] openshell-sandbox/net success", self.log())

    def test_off_runs_in_the_host_namespace_and_says_so(self):
        env = dict(os.environ, OPENSHELL_NETNS="off")
        r = subprocess.run([SANDBOX, "--log-dir", self.tmp, "--", "sh", "-c",
                            "readlink /proc/self/ns/net"],
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), os.readlink("/proc/self/ns/net"))
        self.assertIn("LIFECYCLE:DISABLE [LOW] openshell-sandbox/net", self.log())

    def test_without_root_unavailable_and_nothing_claimed(self):
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            SANDBOX, "--log-dir", self.tmp, "--", "sh", "-c",
                            "readlink /proc/self/ns/net"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), os.readlink("/proc/self/ns/net"),
                         "the command stays in the host namespace")
        log = self.log()
        self.assertIn("LIFECYCLE:DISABLE [MED] openshell-sandbox/net failure", log)
        self.assertNotIn("openshell-sandbox/net success", log)
        self.assertRegex(log, r"not enforced: network")

    def test_bad_setting_is_refused_by_name(self):
        env = dict(os.environ, OPENSHELL_NETNS="sometimes")
        r = subprocess.run([SANDBOX, "--log-dir", self.tmp, "--", "true"], capture_output=True,
                           text=True, timeout=30, env=env)
        self.assertEqual(r.returncode, 125)
        self.assertIn("OPENSHELL_NETNS", self.log())
        self.assertIn("LIFECYCLE:START [HIGH] openshell-sandbox/net failure", self.log())


if __name__ == "__main__":
    unittest.main()
