#!/usr/bin/python3
"""End-to-end: the `openshell` CLI's upstream-compatible forms (issue 15).

DESIGN
One real openshell-gateway with the real openshell-sandbox on the data dir's
unix socket; every test runs the real CLI binary and checks what a user sees:
stdout, the one stderr line and the exit code. Machine output (-o json) is
parsed with Python's json module, so a stray byte fails the test. The agent's
own stdout/stderr must reach `openshell logs` as source "agent"; a follow
(`logs NAME --tail`) must end by itself once the sandbox has exited and print
its exit status; Ctrl-C must end it at once. Every wait polls a condition
with a deadline.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import osh_testdir  # noqa: E402
from test_supervisor_e2e import CLI, GATEWAY, SANDBOX, read, wait_for  # noqa: E402


class CliE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = osh_testdir.TestDir("cli-e2e")
        cls.data = os.path.join(cls.dir.path, "data")
        cls.state = os.path.join(cls.dir.path, "state")
        os.makedirs(cls.data)
        env = dict(os.environ, OPENSHELL_POLL_INTERVAL="200ms")
        cls.err = open(os.path.join(cls.data, "gateway.stderr"), "a")
        cls.gw = subprocess.Popen(
            [GATEWAY, "--data-dir", cls.data, "--sandbox-bin", SANDBOX],
            stdout=cls.err, stderr=cls.err, env=env, start_new_session=True)
        addr_file = os.path.join(cls.data, "gateway.addr")
        cls.addr = wait_for(lambda: read(addr_file).strip(), 15, "gateway.addr")

    @classmethod
    def tearDownClass(cls):
        subprocess.run([CLI, "--gateway", cls.addr, "sandbox", "delete", "--all"],
                       capture_output=True, timeout=60)
        cls.gw.terminate()
        cls.gw.wait(timeout=20)
        cls.err.close()
        cls.dir.finish()

    def env(self, **kw):
        e = dict(os.environ, XDG_STATE_HOME=self.state, NO_COLOR="1")
        e.pop("OPENSHELL_LOG_TIME", None)
        e.update(kw)
        return e

    def run_cli(self, *args, rc=0, env=None, timeout=30):
        r = subprocess.run([CLI, "--gateway", self.addr] + list(args), capture_output=True,
                           text=True, timeout=timeout, env=env or self.env())
        if rc is not None:
            self.assertEqual(r.returncode, rc, "openshell %s: rc %d\nstdout: %s\nstderr: %s"
                             % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def create(self, name, *cmd, extra=()):
        r = self.run_cli("sandbox", "create", "--name", name, *extra, "--", *cmd)
        self.assertTrue(r.stdout.startswith("sandbox %s created (id " % name), r.stdout)

    def get_json(self, name):
        return json.loads(self.run_cli("sandbox", "get", name, "-o", "json").stdout)

    def wait_exited(self, name, timeout=20):
        return wait_for(lambda: (lambda j: j if j["state"] in ("exited", "failed") else None)(
            self.get_json(name)), timeout, "%s to exit" % name)

    # ------------------------------------------------------------ sandbox --

    def test_get_list_json_names_and_delete_many(self):
        self.create("g1", "sleep", "600", extra=("--env", "GREETING=hi there"))
        self.create("g2", "sleep", "600")
        j = self.get_json("g1")
        self.assertEqual(j["name"], "g1")
        self.assertEqual(j["state"], "running")
        self.assertGreater(j["pid"], 0)
        self.assertIsNone(j["exit_code"])
        self.assertEqual(j["command"], ["sleep", "600"])
        self.assertTrue(j["created"].endswith("Z"))
        for k in ("id", "created_ms", "policy_version", "log_dir"):
            self.assertIn(k, j)
        y = self.run_cli("sandbox", "get", "g1", "-o", "yaml").stdout
        self.assertIn('name: "g1"\n', y)
        self.assertIn("state: running\n", y)
        self.assertIn('  - "sleep"\n', y)
        t = self.run_cli("sandbox", "get", "g1").stdout
        self.assertRegex(t, r"(?m)^State: +running$")
        lst = json.loads(self.run_cli("sandbox", "list", "-o", "json").stdout)
        names = [s["name"] for s in lst["sandboxes"]]
        self.assertIn("g1", names)
        self.assertIn("g2", names)
        self.assertEqual(set(lst["sandboxes"][0]), set(j))
        n = self.run_cli("sandbox", "list", "--names").stdout.splitlines()
        self.assertIn("g1", n)
        self.assertIn("g2", n)
        r = self.run_cli("sandbox", "get", "nosuch", rc=1)
        self.assertEqual(r.stderr, "openshell: sandbox get: no sandbox with name 'nosuch'\n")
        r = self.run_cli("sandbox", "delete", "g1", "g2")
        self.assertEqual(r.stdout, "sandbox g1 deleted\nsandbox g2 deleted\n")
        n = self.run_cli("sandbox", "list", "--names").stdout.splitlines()
        self.assertNotIn("g1", n)
        # one bad name among good ones: every name tried, exit 1
        self.create("g3", "sleep", "600")
        r = self.run_cli("sandbox", "delete", "nosuch", "g3", rc=1)
        self.assertIn("sandbox g3 deleted", r.stdout)
        self.assertIn("no sandbox with name 'nosuch'", r.stderr)

    def test_delete_all(self):
        self.create("da1", "sleep", "600")
        self.create("da2", "sleep", "600")
        self.run_cli("sandbox", "delete", "--all")
        self.assertEqual(self.run_cli("sandbox", "list", "--names").stdout, "")
        self.assertEqual(json.loads(self.run_cli("sandbox", "list", "-o", "json").stdout),
                         {"sandboxes": []})

    def test_labels_create_list_select_get(self):
        self.create("lb1", "sleep", "600", extra=("--label", "team=infra", "--label", "tier=gold"))
        self.create("lb2", "sleep", "600", extra=("--label", "team=infra",
                                                   "--label", "openshell.ai/note=a b=c"))
        self.create("lb3", "sleep", "600", extra=("--label=team=web",))
        self.create("lb4", "sleep", "600")
        j = self.get_json("lb2")
        self.assertEqual(j["labels"], {"team": "infra", "openshell.ai/note": "a b=c"})
        self.assertEqual(self.get_json("lb4")["labels"], {})
        y = self.run_cli("sandbox", "get", "lb1", "-o", "yaml").stdout
        self.assertIn('labels:\n  "team": "infra"\n  "tier": "gold"\n', y)
        t = self.run_cli("sandbox", "get", "lb1").stdout
        self.assertRegex(t, r"(?m)^Labels: +team=infra, tier=gold$")
        # table: a LABELS column, labels sorted by key, "-" for none
        rows = {ln.split()[0]: ln for ln in self.run_cli("sandbox", "list").stdout.splitlines()}
        self.assertEqual(rows["NAME"].split()[-1], "LABELS")
        self.assertTrue(rows["lb1"].endswith("  team=infra,tier=gold"), rows["lb1"])
        self.assertTrue(rows["lb4"].endswith("  -"), rows["lb4"])
        # the gateway filters: every label of the selector, any order
        def selected(sel):
            out = json.loads(self.run_cli("sandbox", "list", "--selector", sel, "-o", "json").stdout)
            return sorted(s["name"] for s in out["sandboxes"] if s["name"].startswith("lb"))
        self.assertEqual(selected("team=infra"), ["lb1", "lb2"])
        self.assertEqual(selected("tier=gold,team=infra"), ["lb1"])
        self.assertEqual(selected("openshell.ai/note=a b=c"), ["lb2"])
        self.assertEqual(selected("team=nobody"), [])
        names = self.run_cli("sandbox", "list", "--names", "--selector", "team=web").stdout
        self.assertEqual(names, "lb3\n")
        # bad labels and selectors: one line naming it, exit 64, nothing created
        for args, needle in [
                (["sandbox", "create", "--name", "lbx", "--label", "bad key=1"],
                 "label key 'bad key': character 4 is not one of"),
                (["sandbox", "create", "--name", "lbx", "--label", "k=" + "v" * 64],
                 "label 'k': value longer than 63 characters"),
                (["sandbox", "create", "--name", "lbx", "--label", "team"],
                 "label 'team': expected KEY=VALUE"),
                (["sandbox", "list", "--selector", "team"], "selector term 1"),
                (["sandbox", "list", "--selector", "a=1,,b=2"], "selector term 2")]:
            r = self.run_cli(*args, rc=64)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            self.assertIn(needle, r.stderr)
        self.assertNotIn("lbx", self.run_cli("sandbox", "list", "--names").stdout.split())
        self.run_cli("sandbox", "delete", "lb1", "lb2", "lb3", "lb4")

    # --------------------------------------------------------------- logs --

    def test_agent_output_in_logs_json_and_default_name(self):
        self.create("ag", "sh", "-c", "echo hello from the agent; echo oops >&2; "
                    "printf 'esc \\033[31m red\\n'; echo $GREETING",
                    extra=("--env", "GREETING=hi there"))
        self.wait_exited("ag")
        want = re.compile(r"^\[\d+\.\d{3}\] \[  agent\] \[INFO \] \[stdout\] hello from the agent$",
                          re.M)
        out = wait_for(lambda: (lambda o: o if want.search(o) else None)(
            self.run_cli("logs", "ag", "--source", "agent").stdout), 15, "agent line")
        self.assertRegex(out, r"(?m)\[stderr\] oops$")
        self.assertRegex(out, r"(?m)\[stdout\] hi there$", "--env reached the agent")
        self.assertNotIn("\x1b", out, "escape bytes never reach the terminal")
        self.assertNotIn("[sandbox]", out, "--source agent filters")
        # the supervisor's own lines stay source sandbox
        sb = self.run_cli("logs", "ag", "--source", "sandbox").stdout
        self.assertIn("[sandbox]", sb)
        self.assertNotRegex(sb, r"(?m)\] hello from the agent$")
        # -o json: one object per line, parsed by json
        lines = self.run_cli("logs", "ag", "-o", "json").stdout.splitlines()
        objs = [json.loads(ln) for ln in lines]
        self.assertTrue(objs)
        for o in objs:
            self.assertEqual(set(o), {"timestamp_ms", "time", "source", "level", "target",
                                      "message", "fields"})
        agent = [o for o in objs if o["source"] == "agent"]
        self.assertIn("hello from the agent", [o["message"] for o in agent])
        # NAME defaults to the last sandbox used (`logs ag` above)
        r = self.run_cli("lg", "--source", "agent")
        self.assertIn("hello from the agent", r.stdout)
        self.assertEqual(json.loads(self.run_cli("sandbox", "get", "-o", "json").stdout)["name"],
                         "ag")

    def test_timestamps_and_since_round_trip(self):
        self.create("ts", "sh", "-c", "echo one")
        self.wait_exited("ts")
        out = wait_for(lambda: (lambda o: o if "one" in o else None)(
            self.run_cli("logs", "ts", "--source", "agent").stdout), 15, "agent line")
        first = re.match(r"^\[(\d+\.\d{3})\]", out).group(1)
        # --since accepts exactly what was printed
        r = self.run_cli("logs", "ts", "--since", first, "--source", "agent")
        self.assertIn("one", r.stdout)
        u = self.run_cli("logs", "ts", "--timestamps", "utc").stdout
        self.assertRegex(u.splitlines()[0], r"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] ")
        u2 = self.run_cli("logs", "ts", env=self.env(OPENSHELL_LOG_TIME="utc")).stdout
        self.assertEqual(u, u2)
        loc = self.run_cli("logs", "ts", "--timestamps=local").stdout
        self.assertRegex(loc.splitlines()[0], r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] ")
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
        self.assertIn("one", self.run_cli("logs", "ts", "--since", iso).stdout)
        self.run_cli("logs", "ts", "--since", "1h")
        r = self.run_cli("logs", "ts", env=self.env(OPENSHELL_LOG_TIME="iso"), rc=64)
        self.assertEqual(r.stderr,
                         "openshell: OPENSHELL_LOG_TIME must be epoch, utc or local, got 'iso'\n")

    def test_follow_ends_with_exit_status(self):
        self.create("fe", "sh", "-c", "echo first; sleep 1; echo last words; exit 3")
        t0 = time.monotonic()
        r = self.run_cli("logs", "fe", "--tail", timeout=60)
        self.assertLess(time.monotonic() - t0, 30)
        self.assertIn("last words", r.stdout, "the last lines are printed before it ends")
        self.assertEqual(r.stderr.splitlines()[-1], "openshell: sandbox fe exited with code 3")

    def test_ctrl_c_ends_follow_at_once(self):
        self.create("cc", "sh", "-c", "echo ready; exec sleep 600")
        p = subprocess.Popen([CLI, "--gateway", self.addr, "logs", "cc", "-f"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=self.env())
        try:
            wait_for(lambda: self.run_cli("logs", "cc", "--source", "agent").stdout.find(
                "ready") >= 0 or None, 15, "ready")
            os.kill(p.pid, signal.SIGINT)
            t0 = time.monotonic()
            out, err = p.communicate(timeout=10)
            self.assertLess(time.monotonic() - t0, 2.0)
            self.assertEqual(p.returncode, 0, err)
            self.assertNotIn("exited with code", err)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.run_cli("sandbox", "delete", "cc")

    # ----------------------------------------------------- settings/status --

    def test_settings_upstream_forms(self):
        j = json.loads(self.run_cli("settings", "get", "--global", "--json").stdout)
        self.assertIn("config_revision", j)
        keys = {e["key"]: e for e in j["settings"]}
        self.assertIn("ocsf_logging_enabled", keys)
        self.assertEqual(set(keys["ocsf_logging_enabled"]), {"key", "value", "type", "source"})
        r = self.run_cli("settings", "set", "--global", "--key", "ocsf_json_enabled",
                         "--value", "true", "--yes")
        self.assertRegex(r.stdout, r"^ocsf_logging_enabled = true \(config_revision \d+")
        j = json.loads(self.run_cli("settings", "get", "--json").stdout)
        e = [x for x in j["settings"] if x["key"] == "ocsf_logging_enabled"][0]
        self.assertEqual((e["value"], e["source"]), ("true", "rpc"))
        r = self.run_cli("settings", "delete", "--key", "ocsf_json_enabled")
        self.assertRegex(r.stdout, r"^ocsf_logging_enabled = false \(default, config_revision")
        r = self.run_cli("settings", "get", "box", rc=64)
        self.assertIn("settings are gateway-wide here", r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1)

    def test_status(self):
        r = self.run_cli("status")
        self.assertRegex(r.stdout, r"(?m)^Health: +ok$")
        self.assertRegex(r.stdout, r"(?m)^Version: +\d+\.\d+\.\d+")
        j = json.loads(self.run_cli("status", "-o", "json").stdout)
        self.assertTrue(j["healthy"])
        self.assertEqual(j["address"], self.addr)
        self.assertGreaterEqual(j["uptime_ms"], 0)
        r = subprocess.run([CLI, "--gateway", "unix:" + os.path.join(self.dir.path, "none.sock"),
                            "status", "-o", "json"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertFalse(json.loads(r.stdout)["healthy"])

    # -------------------------------------------------------- bad input --

    def test_usage_errors_are_one_line_exit_64(self):
        cases = [
            (["logs", "x", "--folow"], "unknown flag '--folow' (did you mean --follow?)"),
            (["-g", "127.0.0.1:73616", "status"], "port 1-65535"),
            (["-g", "http://127.0.0.1:8080", "status"], "drop the scheme"),
            (["sandbox", "list", "-o", "xml"], "-o must be table or json"),
            (["logs", "x", "-n", "-1"], "-n needs a number"),
            (["logs", "x", "--since", "1796538346"], "--since needs"),
            (["sandbox", "create", "--name", "a", "--name", "b"], "--name given twice"),
            (["completions", "tcsh"], "SHELL must be bash, zsh or fish"),
        ]
        for args, needle in cases:
            r = subprocess.run([CLI] + args, capture_output=True, text=True, timeout=30,
                               env=self.env())
            self.assertEqual(r.returncode, 64, (args, r.stderr))
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            self.assertIn(needle, r.stderr)
        # logs without NAME and no state: a clear line
        r = subprocess.run([CLI, "logs"], capture_output=True, text=True, timeout=30,
                           env=self.env(XDG_STATE_HOME=os.path.join(self.dir.path, "empty")))
        self.assertEqual(r.returncode, 64)
        self.assertIn("logs: missing sandbox NAME", r.stderr)

    # ------------------------------------------------------- completions --

    def test_completions_load_in_bash(self):
        script = ("source <(%s completions bash) && complete -p openshell && "
                  "COMP_WORDS=(openshell sandbox g); COMP_CWORD=2; _openshell; "
                  "echo \"${COMPREPLY[*]}\"; "
                  "COMP_WORDS=(openshell logs x --fo); COMP_CWORD=3; _openshell; "
                  "echo \"${COMPREPLY[*]}\"" % CLI)
        r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn("complete -F _openshell openshell", lines[0])
        self.assertEqual(lines[1], "get")
        self.assertEqual(lines[2], "--follow")
        for sh in ("zsh", "fish"):
            r = self.run_cli("completions", sh)
            self.assertIn("sandbox", r.stdout)
            self.assertIn("--follow", r.stdout if sh == "zsh" else r.stdout.replace("-l ", "--"))


    # --------------------------------------------------------------- term --

    def test_term_without_a_terminal(self):
        r = subprocess.run([CLI, "--gateway", self.addr, "term"], capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL, env=self.env())
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("term needs a terminal", r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1)

    def test_term_under_tmux(self):
        self.create("tui1", "sh", "-c",
                    "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done")
        self.create("tui2", "sleep", "600")
        sock = "osh-cli-e2e-%d" % os.getpid()
        tmux = ["tmux", "-L", sock]
        env = self.env(TERM="xterm-256color")
        subprocess.run(tmux + ["new-session", "-d", "-s", "t", "-x", "130", "-y", "32",
                               "%s --gateway %s term" % (CLI, self.addr)],
                       check=True, env=env, timeout=30)

        def screen():
            return subprocess.run(tmux + ["capture-pane", "-p", "-t", "t"], capture_output=True,
                                  text=True, timeout=10).stdout

        def ticks(sc):
            return [int(m) for m in re.findall(r"\[stdout\] tick (\d+)", sc)]

        try:
            sc = wait_for(lambda: (lambda x: x if "tui1" in x and "tui2" in x else None)(
                screen()), 15, "both sandboxes in the list")
            self.assertRegex(sc, r"(?m)^tui1 +running +\d+ +\d+s")
            self.assertRegex(sc, r"(?m)^tui2 +running +\d+ +\d+s")
            self.assertIn("FOLLOWING", sc.splitlines()[0])
            # select tui1 (other tests' sandboxes may be listed above it)
            rows = [ln.split()[0] for ln in sc.splitlines()[2:] if ln and not ln.startswith(" ")]
            subprocess.run(tmux + ["send-keys", "-t", "t"] + ["j"] * rows.index("tui1"),
                           check=True)
            # its log panel follows new lines
            first = wait_for(lambda: (lambda t: max(t) + 1 if t else None)(ticks(screen())),
                             15, "agent ticks in the log panel") - 1
            wait_for(lambda: max(ticks(screen()) or [0]) >= first + 3 or None, 15,
                     "the panel following new lines")
            # pause: the view freezes
            subprocess.run(tmux + ["send-keys", "-t", "t", "p"], check=True)
            frozen = wait_for(lambda: (lambda x: x if "PAUSED" in x.splitlines()[0] else None)(
                screen()), 10, "PAUSED")
            last = max(ticks(frozen))
            wait_for(lambda: self.run_cli("logs", "tui1", "--source", "agent").stdout.count(
                "tick") > last + 5 or None, 15, "more ticks arriving at the gateway")
            self.assertEqual(max(ticks(screen())), last, "no new line while PAUSED")
            # follow again, then filter by text
            subprocess.run(tmux + ["send-keys", "-t", "t", "p", "/", "tick 1", "Enter"],
                           check=True)
            sc = wait_for(lambda: (lambda x: x if 'filter="tick 1"' in x else None)(screen()),
                          10, "filter shown")
            wait_for(lambda: ticks(screen()) or None, 10, "filtered lines")
            for n in ticks(screen()):
                self.assertTrue(str(n).startswith("1"), n)
            self.assertNotIn("LIFECYCLE", screen())
            # resize: the layout is redrawn at the new size, no garbage
            subprocess.run(tmux + ["resize-window", "-t", "t", "-x", "80", "-y", "20"],
                           check=True)

            def redrawn():
                lines = screen().splitlines()
                if len(lines) != 20 or "openshell term" not in lines[0]:
                    return None
                if "q quit" not in lines[-1]:
                    return None
                return lines
            lines = wait_for(redrawn, 10, "redraw at 80x20")
            for ln in lines:
                self.assertLessEqual(len(ln), 80, ln)
            self.assertTrue(lines[1].startswith("NAME"), lines[1])
            self.assertTrue(any(ln.startswith("tui1") for ln in lines))
            subprocess.run(tmux + ["send-keys", "-t", "t", "q"], check=True)
            wait_for(lambda: subprocess.run(tmux + ["has-session", "-t", "t"],
                                            capture_output=True).returncode != 0 or None,
                     10, "q quits")
        finally:
            subprocess.run(tmux + ["kill-server"], capture_output=True)
            self.run_cli("sandbox", "delete", "tui1", "tui2", rc=None)


if __name__ == "__main__":
    unittest.main(verbosity=2)
