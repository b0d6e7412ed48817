#!/usr/bin/python3
"""End-to-end: SSH into sandboxes (issue 13, docs/ssh.md).

DESIGN
One real openshell-gateway with the real openshell-sandbox; JSONL export on,
so every event is checked in both files (openshell.log shorthand and
openshell-ocsf.log, which the osh_testdir fixture validates against the
schema). The sandbox's command is a loopback HTTP server inside its network
namespace, the target of the direct-tcpip test. Clients are the real CLI
(`sandbox exec`, `sandbox connect` under tmux), the Debian OpenSSH client
and sftp through `sandbox ssh-config`, and raw sockets for the NSSH1 gate
(the test reads the preface secret from the gateway's data dir, as only
root can, to forge valid, replayed, expired and bad prefaces). Network
targets are loopback and the sandbox's own namespace address only. Every
wait polls a condition with a deadline.
"""
import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import osh_testdir  # noqa: E402
from test_supervisor_e2e import CLI, GATEWAY, SANDBOX, jsonl, read, wait_for  # noqa: E402

SSH_CLASS = 4007
FINDING_CLASS = 2004


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class SshE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = osh_testdir.TestDir("ssh-e2e")
        cls.data = os.path.join(cls.dir.path, "data")
        cls.home = os.path.join(cls.dir.path, "home")
        os.makedirs(cls.data)
        os.makedirs(cls.home)
        # a short preface deadline, so the slow-client test waits 4 s, not 10
        env = dict(os.environ, OPENSHELL_POLL_INTERVAL="200ms", OPENSHELL_SSH_PREFACE_TIMEOUT="4s")
        cls.err = open(os.path.join(cls.data, "gateway.stderr"), "a")
        cls.gw = subprocess.Popen(
            [GATEWAY, "--data-dir", cls.data, "--sandbox-bin", SANDBOX],
            stdout=cls.err, stderr=cls.err, env=env, start_new_session=True)
        cls.addr = wait_for(lambda: read(os.path.join(cls.data, "gateway.addr")).strip(), 15,
                            "gateway.addr")
        cls.cli("config", "set", "ocsf_json_enabled", "true")
        cls.port = free_port()
        try:
            cls.start_sandbox()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start_sandbox(cls):
        out = cls.cli("sandbox", "create", "--name", "ssh1", "--", "sh", "-c",
                      "exec python3 -m http.server %d --bind 127.0.0.1 --directory /tmp"
                      % cls.port).stdout
        cls.id = re.search(r"\(id ([0-9a-f-]+)", out).group(1)
        cls.logdir = os.path.join(cls.data, "sandboxes", "ssh1", "logs")
        cls.log = os.path.join(cls.logdir, "openshell.log")
        cls.ocsf = os.path.join(cls.logdir, "openshell-ocsf.log")
        # the SSH server reported its endpoint and the HTTP server listens
        m = wait_for(lambda: re.search(r"SSH endpoint unix:(\S+) \(host key (SHA256:\S+)\) "
                                       r"reported", read(cls.log)), 20, "the SSH endpoint")
        cls.sock, cls.fp = m.group(1), m.group(2)
        wait_for(lambda: cls.exec_ok("python3 -c 'import socket; socket.create_connection("
                                     "(\"127.0.0.1\", %d), 1)'" % cls.port), 20,
                 "the sandbox's HTTP server")
        with open(os.path.join(cls.data, "ssh", cls.id + ".secret")) as f:
            cls.secret = f.read().strip()

    @classmethod
    def tearDownClass(cls):
        subprocess.run([CLI, "--gateway", cls.addr, "sandbox", "delete", "--all"],
                       capture_output=True, timeout=60)
        cls.gw.terminate()
        cls.gw.wait(timeout=20)
        cls.err.close()
        cls.dir.finish()

    @classmethod
    def env(cls):
        return dict(os.environ, HOME=cls.home, NO_COLOR="1", TERM="xterm")

    @classmethod
    def cli(cls, *args, rc=0, timeout=60, input=None):
        r = subprocess.run([CLI, "--gateway", cls.addr] + list(args), capture_output=True,
                           text=True, timeout=timeout, env=cls.env(), input=input)
        if rc is not None and r.returncode != rc:
            raise AssertionError("openshell %s: rc %d (want %d)\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), r.returncode, rc, r.stdout, r.stderr))
        return r

    @classmethod
    def exec_ok(cls, cmd):
        r = cls.cli("sandbox", "exec", "ssh1", "--", "sh", "-c", cmd, rc=None, input="")
        if os.environ.get("OSH_SSH_DEBUG"):
            print(r.returncode, r.stdout, r.stderr, file=sys.stderr)
        return r.returncode == 0

    # ------------------------------------------------------------ helpers --

    def ssh_events(self, pred):
        return [e for e in jsonl(self.ocsf) if pred(e)]

    def wait_event(self, pred, what, n=1):
        return wait_for(lambda: (lambda ev: ev if len(ev) >= n else None)(self.ssh_events(pred)),
                        20, what)

    def preface(self, ts=None, nonce=None, secret=None, token="test"):
        ts = int(time.time()) if ts is None else ts
        nonce = nonce or os.urandom(16).hex()
        mac = hmac.new((secret or self.secret).encode(), ("%s|%d|%s" % (token, ts, nonce)).encode(),
                       hashlib.sha256).hexdigest()
        return ("NSSH1 %s %d %s %s\n" % (token, ts, nonce, mac)).encode()

    def raw(self, data, close_after=True):
        """Send data to the SSH socket; return the answer line."""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(15)
        s.connect(self.sock)
        s.sendall(data)
        ans = b""
        while not ans.endswith(b"\n"):
            b = s.recv(1)
            if not b:
                break
            ans += b
        if close_after:
            s.close()
        return ans

    def refusals(self, reason):
        return lambda e: (e.get("class_uid") == SSH_CLASS and
                          e.get("unmapped", {}).get("reason") == reason)

    # --------------------------------------------------------------- tests --

    def test_sandbox_get_shows_the_reported_host_key(self):
        j = json.loads(self.cli("sandbox", "get", "ssh1", "-o", "json").stdout)
        self.assertEqual(j["ssh_fingerprint"], self.fp)
        self.assertIn("SSH key:  %s\n" % self.fp, self.cli("sandbox", "get", "ssh1").stdout)
        self.assertIn("ssh_fingerprint: \"%s\"" % self.fp,
                      self.cli("sandbox", "get", "ssh1", "-o", "yaml").stdout)

    def test_exec_output_exit_code_and_confinement(self):
        r = self.cli("sandbox", "exec", "ssh1", "--", "sh", "-c",
                     "echo out; echo err >&2; exit 7", rc=7, input="")
        self.assertEqual(r.stdout, "out\n")
        self.assertIn("err", r.stderr)
        # same user, namespace and seccomp state as the agent
        agent = int(re.search(r"PROC:LAUNCH \[\w+\] ALLOWED sh\((\d+)\)",
                              read(self.log)).group(1))
        r = self.cli("sandbox", "exec", "ssh1", "--", "sh", "-c",
                     "id -u; readlink /proc/self/ns/net; grep ^Seccomp: /proc/self/status",
                     input="")
        uid, ns, sec = r.stdout.splitlines()
        with open("/proc/%d/status" % agent) as f:
            agent_uid = re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1)
        self.assertEqual(uid, agent_uid)
        self.assertNotEqual(uid, "0")
        self.assertEqual(ns, os.readlink("/proc/%d/ns/net" % agent))
        self.assertEqual(sec.split()[-1], "2", "seccomp filter mode")
        # a quoted argument arrives as one word
        r = self.cli("sandbox", "exec", "ssh1", "--", "printf", "[%s]", "a b", "c", input="")
        self.assertEqual(r.stdout, "[a b][c]")
        ev = self.wait_event(lambda e: e.get("class_uid") == SSH_CLASS and
                             e.get("unmapped", {}).get("channel") == "exec" and
                             e.get("unmapped", {}).get("exit_code") == 7, "exit event")
        self.assertEqual(ev[0]["metadata"]["event_code"], "SSH_CHANNEL_EXIT")
        self.assertIn("SSH:CHANNEL_CLOSE", read(self.log))
        self.assertIn("SSH:RELAY_OPEN", read(os.path.join(self.data, "openshell-gateway.log")))
        # the policy event lists ssh as enforced (only while the server runs)
        pol = [e for e in jsonl(self.ocsf) if e.get("metadata", {}).get("event_code") ==
               "POLICY_DEFAULT"]
        self.assertTrue(pol, "the policy event")
        self.assertIn("ssh", pol[0]["unmapped"]["enforced"])

    def test_connect_under_tmux(self):
        sess = "osh-ssh-%d" % os.getpid()
        tenv = dict(self.env())
        cmd = "%s --gateway %s sandbox connect ssh1" % (CLI, self.addr)
        subprocess.run(["tmux", "new-session", "-d", "-s", sess, "-x", "120", "-y", "40",
                        "-e", "HOME=" + self.home, cmd], check=True, env=tenv, timeout=10)
        try:
            def pane():
                return subprocess.run(["tmux", "capture-pane", "-p", "-t", sess],
                                      capture_output=True, text=True, timeout=10).stdout

            def keys(*k):
                subprocess.run(["tmux", "send-keys", "-t", sess] + list(k), check=True,
                               timeout=10)

            keys("echo tty-$((6*7)); stty size", "Enter")
            wait_for(lambda: "tty-42" in pane() and re.search(r"(?m)^40 120$", pane()), 20,
                     "the shell's output in the pane")
            subprocess.run(["tmux", "resize-window", "-t", sess, "-x", "100", "-y", "30"],
                           check=True, timeout=10)
            keys("clear; stty size", "Enter")
            wait_for(lambda: re.search(r"(?m)^30 100$", pane()), 20, "the window change")
            keys("exit", "Enter")
            wait_for(lambda: subprocess.run(["tmux", "has-session", "-t", sess],
                                            capture_output=True).returncode != 0, 20,
                     "the session to end")
        finally:
            subprocess.run(["tmux", "kill-session", "-t", sess], capture_output=True)
        ev = self.wait_event(lambda e: e.get("class_uid") == SSH_CLASS and
                             e.get("unmapped", {}).get("channel") == "shell" and
                             e.get("unmapped", {}).get("pty") is True, "the PTY shell event")
        self.assertEqual(ev[0]["metadata"]["event_code"], "SSH_CHANNEL_OPEN")

    def ssh_config(self):
        path = os.path.join(self.home, "ssh_config")
        with open(path, "w") as f:
            f.write(self.cli("sandbox", "ssh-config", "ssh1").stdout)
        return path

    def test_openssh_and_sftp_via_ssh_config(self):
        cfg = self.ssh_config()
        text = read(cfg)
        self.assertIn("Host openshell-ssh1\n", text)
        self.assertIn("sandbox ssh-proxy 'ssh1'", text)
        self.assertIn("StrictHostKeyChecking yes", text)
        kh = re.search(r"UserKnownHostsFile (\S+)", text).group(1)
        self.assertRegex(read(kh), r"(?m)^openshell-ssh1 ssh-ed25519 \S+$")
        r = subprocess.run(["ssh", "-F", cfg, "openshell-ssh1", "echo via-openssh; exit 3"],
                           capture_output=True, text=True, timeout=30, env=self.env(),
                           stdin=subprocess.DEVNULL)
        self.assertEqual((r.returncode, r.stdout), (3, "via-openssh\n"), r.stderr)
        # sftp through the system sftp-server, as the sandbox user
        src = os.path.join(self.home, "up.txt")
        back = os.path.join(self.home, "down.txt")
        with open(src, "w") as f:
            f.write("payload %d\n" % os.getpid())
        os.chmod(self.home, 0o755)
        batch = os.path.join(self.home, "batch")
        remote = "/tmp/osh-ssh-e2e-%d" % os.getpid()
        with open(batch, "w") as f:
            f.write("put %s %s\nget %s %s\nrm %s\n" % (src, remote, remote, back, remote))
        r = subprocess.run(["sftp", "-F", cfg, "-b", batch, "openshell-ssh1"],
                           capture_output=True, text=True, timeout=30, env=self.env())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read(back), read(src))
        # a key that is not the pinned one is refused
        with open(kh) as f:
            good = f.read()
        with open(kh, "w") as f:
            f.write("openshell-ssh1 ssh-ed25519 "
                    "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
        r = subprocess.run(["ssh", "-F", cfg, "openshell-ssh1", "true"], capture_output=True,
                           text=True, timeout=30, env=self.env(), stdin=subprocess.DEVNULL)
        with open(kh, "w") as f:
            f.write(good)
        self.assertEqual(r.returncode, 255, "a changed host key must be refused")

    def test_direct_tcpip_loopback_only(self):
        cfg = self.ssh_config()
        r = subprocess.run(["ssh", "-F", cfg, "-W", "127.0.0.1:%d" % self.port, "openshell-ssh1"],
                           input=b"GET / HTTP/1.0\r\n\r\n", capture_output=True, timeout=30,
                           env=self.env())
        self.assertTrue(r.stdout.startswith(b"HTTP/1.0 200"), r.stdout[:200] + r.stderr)
        # the sandbox's own namespace address is not loopback: refused
        ip = self.cli("sandbox", "exec", "ssh1", "--", "sh", "-c",
                      "ip -o -4 addr show scope global | awk '{print $4}' | cut -d/ -f1",
                      input="").stdout.split()
        self.assertTrue(ip, "the sandbox has a namespace address")
        target = "%s:%d" % (ip[0], self.port)
        r = subprocess.run(["ssh", "-F", cfg, "-W", target, "openshell-ssh1"],
                           input=b"", capture_output=True, timeout=30, env=self.env())
        self.assertEqual(r.returncode, 255)
        ev = self.wait_event(lambda e: e.get("class_uid") == SSH_CLASS and
                             e.get("unmapped", {}).get("channel") == "direct-tcpip" and
                             e.get("unmapped", {}).get("detail") == target and
                             e.get("action_id") == 2, "the refused forward")
        self.assertEqual(ev[0]["metadata"]["event_code"], "SSH_CHANNEL_REFUSED")
        self.assertIn("[reason:direct-tcpip %s refused" % target, read(self.log))

    def test_replay_is_one_activity_and_one_finding(self):
        line = self.preface()
        self.assertEqual(self.raw(line), b"OK\n")
        self.assertEqual(self.raw(line), b"ERR\n")
        ev = self.wait_event(self.refusals("nonce-replay"), "the replay refusal")
        fd = self.wait_event(lambda e: e.get("class_uid") == FINDING_CLASS and
                             e["finding_info"]["title"] == "NSSH1 Preface Replay", "the finding")
        self.assertEqual(len(ev), 1)
        self.assertEqual(len(fd), 1)
        self.assertEqual(ev[0]["metadata"]["event_code"], "SSH_REPLAY")
        atk = fd[0]["finding_info"]["attacks"][0]
        self.assertEqual((atk["technique"]["uid"], atk["tactic"]["uid"]), ("T1550", "TA0008"))
        text = read(self.log)
        self.assertEqual(len(re.findall(r"SSH:REFUSE \[HIGH\] DENIED \S+ \[auth:NSSH1\] "
                                        r"\[reason:preface refused \(nonce-replay\)", text)), 1)
        self.assertEqual(len(re.findall(r'"NSSH1 Preface Replay"', text)), 1)
        self.assertNotIn(self.secret, text)

    def test_bad_prefaces_each_refused_with_an_event(self):
        cases = [
            ("bad-hmac", self.preface(secret="0" * 64)),
            ("expired-timestamp", self.preface(ts=int(time.time()) - 1000)),
            ("too-long", b"NSSH1 " + b"x" * 1100 + b"\n"),
            ("ssh-before-preface", b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n"),
            ("malformed", b"NSSH1 only three\n"),
        ]
        for reason, data in cases:
            self.assertEqual(self.raw(data), b"ERR\n", reason)
            self.wait_event(self.refusals(reason), reason)
        text = read(self.log)
        for reason, _ in cases:
            self.assertIn("[reason:preface refused (%s)" % reason, text)
        # the server and other sessions are unaffected
        r = self.cli("sandbox", "exec", "ssh1", "--", "echo", "still-up", input="")
        self.assertEqual(r.stdout, "still-up\n")

    def test_slow_client_is_refused_and_others_unaffected(self):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(15)
        s.connect(self.sock)
        s.sendall(b"NSSH1 slow")  # and never the rest of the line
        t0 = time.monotonic()
        # meanwhile a real session works
        r = self.cli("sandbox", "exec", "ssh1", "--", "echo", "meanwhile", input="")
        self.assertEqual(r.stdout, "meanwhile\n")
        ans = s.recv(8)
        s.close()
        self.assertEqual(ans, b"ERR\n")
        self.assertGreater(time.monotonic() - t0, 2.0, "refused at the deadline, not before")
        self.wait_event(self.refusals("timeout"), "the slow-client refusal")

    def test_input_flood_closes_the_channel(self):
        cfg = self.ssh_config()
        r = subprocess.run(["ssh", "-F", cfg, "openshell-ssh1", "sleep 30"],
                           input=b"\0" * (6 << 20), capture_output=True, timeout=60,
                           env=self.env())
        self.assertNotEqual(r.returncode, 0)
        ev = self.wait_event(lambda e: e.get("class_uid") == SSH_CLASS and
                             "input flood" in e.get("status_detail", ""), "the flood refusal")
        self.assertEqual(ev[0]["metadata"]["event_code"], "SSH_CHANNEL_REFUSED")
        r = self.cli("sandbox", "exec", "ssh1", "--", "echo", "after-flood", input="")
        self.assertEqual(r.stdout, "after-flood\n")

    def test_relay_to_a_sandbox_that_is_not_running(self):
        self.cli("sandbox", "create", "--name", "ssh-done", "--", "true")
        wait_for(lambda: json.loads(self.cli("sandbox", "get", "ssh-done", "-o", "json").stdout)
                 ["state"] in ("exited", "failed"), 20, "ssh-done to exit")
        r = self.cli("sandbox", "ssh-proxy", "ssh-done", rc=1, input="")
        self.assertIn("not running", r.stderr)
        self.assertRegex(read(os.path.join(self.data, "openshell-gateway.log")),
                         r"SSH:RELAY_FAIL \[MED\] DENIED localhost \[reason:relay to sandbox ssh-done "
                         r"failed: the sandbox is not running\]")


if __name__ == "__main__":
    unittest.main(verbosity=2)
