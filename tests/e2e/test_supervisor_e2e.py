#!/usr/bin/python3
"""End-to-end tests: openshell-gateway + openshell CLI + openshell-sandbox.

DESIGN
Real binaries, one fresh temp data dir per test; the gateway serves its
default Unix socket (unix:PATH read back from <data-dir>/gateway.addr; a
restarted gateway on the same data dir has the same address). Every wait polls a
condition with a deadline; nothing sleeps to synchronise. The sandbox's
workload is a shell loop (it only has to stay alive); events that make the
JSONL file grow come from the supervisor's documented --heartbeat option
(OPENSHELL_HEARTBEAT in the gateway's environment, inherited by the
supervisors it launches) and from config toggles. Each test works in an
osh_testdir.TestDir (tests/support/osh_testdir.py): its finish() in tearDown
validates every JSONL file with tools/ocsf-validate, fails on a sanitizer
report in any daemon output (the gateway's gateway-*.out, every
supervisor.stderr, also of deleted sandboxes), copies the logs to
$OSH_TEST_LOG_DIR for tools/site-census and removes the dir. tearDown also
stops what is left the way an operator would (delete, then SIGTERM to the
gateway) and checks the exit codes: the gateway 0, every supervisor stopped
by that delete 143 (128 + SIGTERM), and no supervisor killed by a signal
the test did not send (a sanitizer's abort is SIGABRT). The command runs as
the unprivileged sandbox user (docs/confinement.md): what it writes goes to
self.box (mode 0777) under a traversable test dir.

Binaries come from $OSH_BIN_DIR (set by ctest), the validator from
$OSH_SOURCE_DIR/tools/ocsf-validate.
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import osh_testdir  # noqa: E402

BIN = os.environ.get("OSH_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
SRC = os.environ.get("OSH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
GATEWAY = os.path.join(BIN, "openshell-gateway")
CLI = os.path.join(BIN, "openshell")
SANDBOX = os.path.join(BIN, "openshell-sandbox")
VALIDATE = os.path.join(SRC, "tools", "ocsf-validate")

POLL = 0.25  # seconds; OPENSHELL_POLL_INTERVAL below
HEARTBEAT = 0.2
LOOP = ["sh", "-c", "while :; do echo tick; sleep 0.2; done"]
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def wait_for(cond, timeout, what):
    """Poll cond() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(0.02)


def read(path):
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def ocsf_lines(text):
    """Shorthand bodies of the OCSF lines of openshell.log, in order."""
    out = []
    for ln in text.splitlines():
        m = re.match(r"^" + TS + r" OCSF (.*)$", ln)
        if m:
            out.append(m.group(1))
    return out




def sandbox_writable(path):
    """Create `path` for the sandboxed command to write: it runs as the
    unprivileged sandbox user under Landlock (docs/confinement.md; /tmp is a
    read-write path), so the test's 0700 temp dir is opened for traversal
    and the file is created world-writable. Returns path."""
    os.chmod(os.path.dirname(path), 0o755)
    with open(path, "w"):
        pass
    os.chmod(path, 0o666)
    return path


def jsonl(path):
    return [json.loads(ln) for ln in read(path).splitlines() if ln.strip()]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False  # gone between kill(0) and the read (ESRCH on read)


class Gateway:
    def __init__(self, data_dir, extra=()):
        self.data_dir = data_dir
        self.extra = list(extra)
        self.proc = None
        self.addr = None

    def start(self):
        addr_file = os.path.join(self.data_dir, "gateway.addr")
        if os.path.exists(addr_file):
            os.unlink(addr_file)
        env = dict(os.environ)
        env["OPENSHELL_POLL_INTERVAL"] = "%dms" % int(POLL * 1000)
        env["OPENSHELL_HEARTBEAT"] = "%dms" % int(HEARTBEAT * 1000)
        env.pop("OPENSHELL_OCSF_LOGGING", None)
        self.out_path = os.path.join(self.data_dir, "gateway-%d.out" % time.monotonic_ns())
        self.out = open(self.out_path, "w")
        self.proc = subprocess.Popen(
            [GATEWAY, "--data-dir", self.data_dir, "--sandbox-bin", SANDBOX] + self.extra,
            stdout=self.out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.addr = wait_for(lambda: read(addr_file).strip(), 15, "gateway.addr")
        return self

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        if self.out:
            self.out.close()
            self.out = None

    def cli(self, *args, check=True, timeout=20):
        r = subprocess.run([CLI, "--gateway", self.addr] + list(args), capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("openshell %s failed (%d): %s %s" %
                                 (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def sandbox_row(self, name):
        for ln in self.cli("sandbox", "list").stdout.splitlines()[1:]:
            cols = ln.split()
            if cols and cols[0] == name:
                return {"name": cols[0], "id": cols[1], "state": cols[2],
                        "pid": int(cols[3]) if cols[3].isdigit() else 0, "exit": cols[4]}
        return None

    def logs_dir(self, name):
        row = self.sandbox_row(name)
        for cand in (name, row["id"] if row else None):
            if cand:
                d = os.path.join(self.data_dir, "sandboxes", cand, "logs")
                if os.path.isdir(d):
                    return d
        found = glob.glob(os.path.join(self.data_dir, "**", "openshell.log"), recursive=True)
        if len(found) == 1:
            return os.path.dirname(found[0])
        raise AssertionError("no log dir for sandbox %s in %s" % (name, self.data_dir))


# The gateway's stderr line when it reaps a supervisor (src/gateway/gateway.c).
REAPED = re.compile(r"sandbox (\S+): supervisor pid (\d+) "
                    r"(?:exited with code (\d+)|killed by signal (\d+))")


def reaped(text):
    """[(sandbox id, pid, exit code or None, signal or None)] from gateway output."""
    return [(m.group(1), int(m.group(2)),
             int(m.group(3)) if m.group(3) is not None else None,
             int(m.group(4)) if m.group(4) is not None else None)
            for m in REAPED.finditer(text)]


class E2E(unittest.TestCase):
    # Signals a test itself sends to supervisors (a subclass or test may add).
    supervisor_signals_sent = ()

    def setUp(self):
        self.dir = osh_testdir.TestDir("e2e")
        self.tmp = self.dir.path
        os.chmod(self.tmp, 0o755)  # traversable by the sandbox user
        self.box = os.path.join(self.tmp, "box")
        os.mkdir(self.box)
        os.chmod(self.box, 0o777)
        self.gateways = []
        self.jsonl_files = set()

    def tearDown(self):
        pids = set()
        problems = []
        try:
            for g in self.gateways:
                if g.proc and g.proc.poll() is None:
                    deleted = set()
                    for ln in g.cli("sandbox", "list", check=False).stdout.splitlines()[1:]:
                        cols = ln.split()
                        if len(cols) > 3 and cols[3].isdigit():
                            pids.add(int(cols[3]))
                        if len(cols) > 2 and cols[2] == "running":
                            deleted.add(cols[1])
                        if cols:
                            r = g.cli("sandbox", "delete", cols[0], check=False)
                            if r.returncode != 0:
                                problems.append("delete %s: %s%s" % (cols[0], r.stdout, r.stderr))
                    g.kill(signal.SIGTERM)
                    if g.proc.returncode != 0:
                        problems.append("gateway exit %d after SIGTERM (want 0)"
                                        % g.proc.returncode)
                    for sid, pid, code, sig in reaped(read(g.out_path)):
                        if sig is not None and sig not in self.supervisor_signals_sent:
                            problems.append("supervisor %d of %s killed by signal %d"
                                            % (pid, sid, sig))
                        elif sid in deleted and code != 128 + signal.SIGTERM:
                            problems.append("supervisor %d of %s stopped by delete exited %r "
                                            "(want 143)" % (pid, sid, code))
                g.kill(signal.SIGTERM)
        finally:
            # Whatever a failed test left running (supervisors adopted across a
            # gateway restart, say) is stopped here, never leaked.
            for pid in pids:
                if pid_alive(pid):
                    os.kill(pid, signal.SIGTERM)
            for pid in pids:
                try:
                    wait_for(lambda: not pid_alive(pid), 15, "supervisor %d to stop" % pid)
                except AssertionError:
                    os.kill(pid, signal.SIGKILL)
                    problems.append("supervisor %d ignored SIGTERM" % pid)
            # Validates every JSONL line, scans daemon output for sanitizer
            # reports, archives the logs, removes the dir.
            self.dir.finish()
        self.assertEqual(problems, [], "\n".join(problems))

    def validate(self, files):
        files = [f for f in files if os.path.exists(f) and os.path.getsize(f) > 0]
        if not files:
            return
        r = subprocess.run(["/usr/bin/python3", VALIDATE, "--version", "auto"] + files,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, "ocsf-validate failed:\n%s%s" % (r.stdout, r.stderr))

    def gateway(self, extra=()):
        g = Gateway(os.path.join(self.tmp, "gw%d" % len(self.gateways)), extra)
        os.makedirs(g.data_dir)
        self.gateways.append(g)
        return g.start()

    def create(self, g, name, cmd=LOOP):
        g.cli("sandbox", "create", "--name", name, "--", *cmd)
        d = g.logs_dir(name)
        log = os.path.join(d, "openshell.log")
        wait_for(lambda: "LIFECYCLE:START [INFO] openshell-sandbox success" in read(log), 15,
                 "SUP_READY in %s" % log)
        return d

    def heartbeats(self, log):
        return read(log).count("openshell-sandbox heartbeat")

    def wait_heartbeats(self, log, n):
        base = self.heartbeats(log)
        wait_for(lambda: self.heartbeats(log) >= base + n, 15, "%d more heartbeats" % n)

    # ---------------------------------------------------------------- tests

    def test_shorthand_only_while_off(self):
        g = self.gateway()
        d = self.create(g, "quiet")
        log = os.path.join(d, "openshell.log")
        self.wait_heartbeats(log, 3)
        text = read(log)
        self.assertIn(" OCSF PROC:LAUNCH [INFO] ALLOWED sh(", text)
        for ln in text.splitlines():
            self.assertRegex(ln, r"^" + TS + r" (OCSF [A-Z]+[:A-Z_]* \[|[A-Z]+ +\S+: )", ln)
            if " OCSF " in ln:
                self.assertNotIn('{"', ln, "JSON in the shorthand file")
        self.assertFalse(os.path.exists(os.path.join(d, "openshell-ocsf.log")),
                         "JSONL file exists while the toggle is off")

    def test_toggle_on_then_off(self):
        g = self.gateway()
        d = self.create(g, "toggle")
        log, jl = os.path.join(d, "openshell.log"), os.path.join(d, "openshell-ocsf.log")
        pid = g.sandbox_row("toggle")["pid"]
        t0 = time.time()
        g.cli("config", "set", "ocsf_logging_enabled", "true")
        upd = wait_for(lambda: [e for e in jsonl(jl)
                                if e["metadata"]["event_code"] == "CONFIG_UPDATED" and
                                e["unmapped"]["new_ocsf_enabled"] is True],
                       15, "CONFIG_UPDATED enabled in the JSONL file")
        # Applied (event time, set by the supervisor) within two poll intervals
        # of the change, plus one GetSandboxPolicy round trip; the slack keeps
        # loaded sanitizer runs from flaking.
        self.assertLess(upd[0]["time"] / 1000.0 - t0, 2 * POLL + 2.0,
                        "toggle applied within two poll intervals")
        size = os.path.getsize(jl)
        wait_for(lambda: os.path.getsize(jl) > size, 10, "JSONL file to grow")
        self.assertEqual(g.sandbox_row("toggle")["pid"], pid, "supervisor restarted")
        self.assertTrue(pid_alive(pid))
        self.wait_heartbeats(log, 2)

        g.cli("config", "set", "ocsf_logging_enabled", "false")
        wait_for(lambda: any(e["metadata"]["event_code"] == "CONFIG_UPDATED" and
                             e["unmapped"]["new_ocsf_enabled"] is False for e in jsonl(jl)),
                 15, "CONFIG_UPDATED disabled in the JSONL file")
        self.wait_heartbeats(log, 1)
        size = os.path.getsize(jl)
        self.wait_heartbeats(log, 4)
        self.assertEqual(os.path.getsize(jl), size, "JSONL grew after the toggle went off")
        self.assertEqual(g.sandbox_row("toggle")["pid"], pid)

        # One to one over the enabled window: from the shorthand line of the
        # first JSON event to that of the last, every OCSF shorthand line has
        # its JSON line, in the same order (the writer thread writes both).
        short = ocsf_lines(read(log))
        events = jsonl(jl)
        prefix = {0: "EVENT", 1007: "PROC:", 5019: "CONFIG:", 6002: "LIFECYCLE:"}

        def matches(sh, ev):
            if not sh.startswith(prefix[ev["class_uid"]]):
                return False
            if ev["class_uid"] in (0, 5019) and ev.get("message") and ev["message"] not in sh:
                return False
            up = ev.get("unmapped", {}).get("uptime_ms")
            return up is None or ("uptime_ms:%d" % up) in sh

        starts = [i for i, sh in enumerate(short) if matches(sh, events[0])]
        self.assertEqual(len(starts), 1, "first JSON event found once in the shorthand")
        window = short[starts[0]:starts[0] + len(events)]
        self.assertEqual(len(window), len(events))
        for ev, sh in zip(events, window):
            self.assertTrue(matches(sh, ev), "JSON %s vs shorthand %s" % (ev, sh))
        self.assertTrue(any(sh.startswith("CONFIG:UPDATED") and "export disabled" in sh
                            for sh in window[-3:]), "the window ends at the disabling change")
        codes = [e["metadata"]["event_code"] for e in events]
        self.assertIn("CONFIG_UPDATED", codes[:2], "the enabling change opens the file")
        self.assertIn("SUP_HEARTBEAT", codes)
        updated = [e for e in events if e["metadata"]["event_code"] == "CONFIG_UPDATED"]
        self.assertEqual(len(updated), 2, "exactly one event per applied change")
        self.assertEqual(updated[0]["state_id"], 2)  # Enabled
        self.assertEqual(updated[1]["state_id"], 1)  # Disabled
        self.assertLess(updated[0]["unmapped"]["old_config_revision"],
                        updated[0]["unmapped"]["new_config_revision"])

    def validate_as(self, lines, version):
        """Every line validates against OCSF `version`'s generated schema."""
        path = os.path.join(self.tmp, "part-%s.jsonl" % version)
        with open(path, "w") as f:
            f.write("".join(json.dumps(e) + "\n" for e in lines))
        r = subprocess.run(["/usr/bin/python3", VALIDATE, "--version", version, path],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, "ocsf-validate --version %s:\n%s%s"
                         % (version, r.stdout[-3000:], r.stderr))
        self.assertIn("%d lines, %d valid, 0 invalid" % (len(lines), len(lines)), r.stdout)
        os.remove(path)

    def test_schema_version_live(self):
        """`config set ocsf_schema_version 1.1.0` turns a running sandbox's JSONL
        into OCSF 1.1.0 (no restart); back to 1.7.0 likewise; bad values refused."""
        g = self.gateway()
        d = self.create(g, "ver")
        log, jl = os.path.join(d, "openshell.log"), os.path.join(d, "openshell-ocsf.log")
        pid = g.sandbox_row("ver")["pid"]
        g.cli("config", "set", "ocsf_logging_enabled", "true")
        wait_for(lambda: any(e["metadata"]["event_code"] == "CONFIG_UPDATED"
                             for e in jsonl(jl)), 15, "JSONL on")

        def changed_to(v, old):
            return [i for i, e in enumerate(jsonl(jl))
                    if e["metadata"]["event_code"] == "CONFIG_UPDATED" and
                    e["unmapped"].get("old_ocsf_schema_version") == old and
                    e["unmapped"].get("new_ocsf_schema_version") == v]

        r = g.cli("config", "set", "ocsf_schema_version", "1.1.0")
        self.assertRegex(r.stdout, r"ocsf_schema_version = 1\.1\.0")
        at = wait_for(lambda: changed_to("1.1.0", "1.7.0"), 15, "CONFIG_UPDATED to 1.1.0")[0]
        self.wait_heartbeats(log, 3)
        events = jsonl(jl)
        before, after = events[:at], events[at:]
        self.assertEqual(after[0]["metadata"]["version"], "1.1.0",
                         "the change itself is written in the new version")
        self.assertEqual(after[0]["unmapped"]["old_ocsf_schema_version"], "1.7.0")
        self.assertIn("(OCSF 1.1.0)", after[0]["message"])
        self.assertTrue(before and all(e["metadata"]["version"] == "1.7.0" for e in before))
        self.assertTrue(all(e["metadata"]["version"] == "1.1.0" for e in after),
                        [e["metadata"]["version"] for e in after])
        self.assertIn("SUP_HEARTBEAT", [e["metadata"]["event_code"] for e in after])
        self.validate_as(before, "1.7.0")
        self.validate_as(after, "1.1.0")
        self.assertEqual(g.sandbox_row("ver")["pid"], pid, "supervisor restarted")
        self.assertTrue(pid_alive(pid))
        # the shorthand file is not converted
        self.assertIn("CONFIG:UPDATED [INFO] sandbox config revision", read(log))

        # A bad value is refused by the gateway, naming the accepted ones;
        # the running config is kept.
        r = g.cli("config", "set", "ocsf_schema_version", "1.2.0", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("invalid OCSF version '1.2.0' (accepted: 1.1.0, 1.3.0, 1.5.0, 1.7.0)",
                      r.stdout + r.stderr)
        r = g.cli("config", "get", "ocsf_schema_version")
        self.assertRegex(r.stdout, r"ocsf_schema_version = 1\.1\.0")

        g.cli("config", "set", "ocsf_schema_version", "1.7.0")
        back = wait_for(lambda: changed_to("1.7.0", "1.1.0"), 15, "CONFIG_UPDATED back to 1.7.0")[0]
        self.wait_heartbeats(log, 2)
        tail = jsonl(jl)[back:]
        self.assertTrue(all(e["metadata"]["version"] == "1.7.0" for e in tail))
        self.validate_as(tail, "1.7.0")
        self.assertEqual(g.sandbox_row("ver")["pid"], pid)

    def test_startup_events_reach_jsonl_when_enabled(self):
        g = self.gateway()
        g.cli("config", "set", "ocsf_logging_enabled", "true")
        d = self.create(g, "early")
        jl = os.path.join(d, "openshell-ocsf.log")
        events = wait_for(lambda: [e for e in jsonl(jl)
                                   if e["metadata"]["event_code"] == "SUP_READY"] and jsonl(jl),
                          10, "SUP_READY in JSONL")
        codes = [e["metadata"]["event_code"] for e in events]
        for c in ("SUP_START", "CONFIG_UPDATED", "POLICY_DEFAULT", "PROC_LAUNCH", "SUP_READY"):
            self.assertIn(c, codes)
        self.assertEqual(codes[0], "SUP_START", "the first event is in the JSONL file")
        launch = events[codes.index("PROC_LAUNCH")]
        self.assertEqual(launch["process"]["name"], "sh")
        self.assertGreater(launch["process"]["pid"], 0)
        self.assertIn("while :", launch["process"]["cmd_line"])
        self.assertEqual(launch["actor"]["process"]["name"], "openshell-sandbox")

    def test_gateway_policy_is_loaded(self):
        g = self.gateway()
        pol = os.path.join(self.tmp, "policy.yaml")
        with open(pol, "w") as f:
            f.write("version: 1\n"
                    "filesystem_policy: {read_only: [/usr], read_write: [/tmp]}\n"
                    "network_policies:\n"
                    "  github:\n"
                    "    endpoints: [{host: api.github.com, port: 443}]\n"
                    "    binaries: [{path: /usr/bin/curl}]\n")
        g.cli("sandbox", "create", "--name", "withpol", "--policy", pol, "--", *LOOP)
        log = os.path.join(g.logs_dir("withpol"), "openshell.log")
        wait_for(lambda: "LIFECYCLE:START [INFO] openshell-sandbox success" in read(log), 15,
                 "SUP_READY")
        text = read(log)
        self.assertRegex(text, r"CONFIG:LOADED \[INFO\] policy loaded from gateway \(version "
                               r"\d+, 1 network policies\)")
        self.assertNotIn("CONFIG:DEFAULT", text, "the gateway's policy replaces the default")
        loaded = text.index("CONFIG:LOADED")
        self.assertLess(loaded, text.index("PROC:LAUNCH"), "policy before the command starts")

    def test_logs_and_follow(self):
        g = self.gateway()
        self.create(g, "logs")
        r = wait_for(lambda: (lambda o: o if "PROC:LAUNCH" in o.stdout else None)(
            g.cli("sandbox", "logs", "logs", "-n", "500")), 10, "pushed PROC:LAUNCH line")
        self.assertRegex(r.stdout, r"\[sandbox\] \[OCSF *\] \[ocsf\] LIFECYCLE:START \[INFO\] "
                                   r"openshell-sandbox")
        self.assertNotIn('{"', r.stdout)

        lines = []
        f = subprocess.Popen([CLI, "--gateway", g.addr, "sandbox", "logs", "logs", "--follow",
                              "-n", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        t = threading.Thread(target=lambda: [lines.append(x) for x in f.stdout], daemon=True)
        t.start()
        try:
            wait_for(lambda: lines, 10, "first followed line")
            g.cli("config", "set", "ocsf_logging_enabled", "true")
            wait_for(lambda: any("CONFIG:UPDATED" in x and "export enabled" in x for x in lines),
                     10, "new CONFIG:UPDATED line in --follow output")
        finally:
            f.terminate()
            f.wait(timeout=10)
            t.join(timeout=10)
            f.stdout.close()
            f.stderr.close()

    def test_omitted_sandbox_config_never_toggles(self):
        g = self.gateway(["--omit-sandbox-config"])
        d = self.create(g, "old")
        log = os.path.join(d, "openshell.log")
        pid = g.sandbox_row("old")["pid"]
        g.cli("config", "set", "ocsf_logging_enabled", "true")
        # 8 heartbeats = 1.6 s = more than six poll intervals.
        self.wait_heartbeats(log, 8)
        text = read(log)
        self.assertNotIn("CONFIG:UPDATED", text)
        self.assertNotIn("CONFIG:DEGRADED", text, "an older gateway is not an outage")
        self.assertFalse(os.path.exists(os.path.join(d, "openshell-ocsf.log")))
        self.assertEqual(g.sandbox_row("old")["pid"], pid)
        self.assertTrue(pid_alive(pid))

    def test_gateway_restart_is_survived(self):
        g = self.gateway()
        d = self.create(g, "survivor")
        log, jl = os.path.join(d, "openshell.log"), os.path.join(d, "openshell-ocsf.log")
        pid = g.sandbox_row("survivor")["pid"]
        g.kill(signal.SIGKILL)
        wait_for(lambda: "OCSF CONFIG:DEGRADED [MED] gateway" in read(log), 10,
                 "GATEWAY_UNREACHABLE")
        self.assertTrue(pid_alive(pid), "the supervisor died with the gateway")
        self.wait_heartbeats(log, 3)
        self.assertEqual(read(log).count("CONFIG:DEGRADED"), 1, "one event per outage")
        g.start()  # same data dir, same port
        wait_for(lambda: "OCSF CONFIG:RESTORED [INFO] gateway" in read(log), 15,
                 "GATEWAY_RESTORED")
        g.cli("config", "set", "ocsf_logging_enabled", "true")
        wait_for(lambda: any(e["metadata"]["event_code"] == "CONFIG_UPDATED" and
                             e["unmapped"]["new_ocsf_enabled"] for e in jsonl(jl)), 15,
                 "toggle after restart applied")
        self.assertTrue(pid_alive(pid))
        r = wait_for(lambda: (lambda o: o if "CONFIG:RESTORED" in o.stdout else None)(
            g.cli("sandbox", "logs", "survivor", "-n", "2000")), 10,
            "lines from the outage pushed after the restart")
        self.assertIn("CONFIG:DEGRADED", r.stdout)

    def test_agent_output_is_kept_apart_and_cannot_forge_supervisor_lines(self):
        # F20: the agent prints a line that looks like the supervisor's own.
        forged = "2026-12-06T00:00:00.000Z OCSF LIFECYCLE:STOP [INFO] openshell-sandbox success"
        g = self.gateway()
        d = self.create(g, "forger", ["sh", "-c",
                                      "echo hello-out; echo '%s' >&2; printf '\\033[2Jx\\n'; "
                                      "sleep 30" % forged])
        agent_log = os.path.join(d, "agent.log")
        wait_for(lambda: "stdout x" in read(agent_log) or "\\x1b[2Jx" in read(agent_log), 15,
                 "agent output in agent.log")
        text = read(agent_log)
        self.assertRegex(text, r"(?m)^" + TS + r" stdout hello-out$")
        self.assertRegex(text, r"(?m)^" + TS + r" stderr " + re.escape(forged) + "$")
        self.assertIn(" stdout \\x1b[2Jx", text, "control bytes are escaped")
        self.assertNotIn("\x1b", text)
        sbdir = os.path.dirname(d)
        for f in ("supervisor.stderr", "supervisor.stdout"):
            self.assertNotIn("LIFECYCLE:STOP", read(os.path.join(sbdir, f)),
                             "the forged line reached %s" % f)
            self.assertNotIn("hello-out", read(os.path.join(sbdir, f)))
        self.assertNotRegex(read(os.path.join(d, "openshell.log")),
                            r"(?m)^" + re.escape(forged) + "$")

    def test_exit_code_3_with_process_identity(self):
        g = self.gateway()
        g.cli("config", "set", "ocsf_logging_enabled", "true")
        g.cli("sandbox", "create", "--name", "three", "--", "sh", "-c", "sleep 0.3; exit 3")
        wait_for(lambda: (g.sandbox_row("three") or {}).get("exit") == "3", 15,
                 "sandbox exit code 3")
        d = g.logs_dir("three")
        events = jsonl(os.path.join(d, "openshell-ocsf.log"))
        launch = [e for e in events if e["metadata"]["event_code"] == "PROC_LAUNCH"][0]
        ex = [e for e in events if e["metadata"]["event_code"] == "PROC_EXIT"][0]
        self.assertEqual(ex["activity_id"], 2)  # Terminate
        self.assertEqual(ex["exit_code"], 3)
        self.assertEqual(ex["process"]["name"], "sh")
        self.assertEqual(ex["process"]["pid"], launch["process"]["pid"])
        self.assertEqual(ex["actor"]["process"]["name"], "openshell-sandbox")
        stop = [e for e in events if e["metadata"]["event_code"] == "SUP_STOP"][0]
        self.assertEqual(stop["unmapped"]["exit_code"], 3)
        self.assertIn("PROC:TERMINATE [INFO] sh(%d) [exit:3]" % ex["process"]["pid"],
                      read(os.path.join(d, "openshell.log")))


class Standalone(unittest.TestCase):
    """openshell-sandbox without a gateway: exit codes, timeout, signals."""

    def setUp(self):
        self.dir = osh_testdir.TestDir("sup")
        self.tmp = self.dir.path

    def tearDown(self):
        self.dir.finish()  # JSONL validated, logs archived, dir removed

    def run_sup(self, *args, timeout=30):
        r = subprocess.run([SANDBOX, "--log-dir", self.tmp] + list(args), capture_output=True,
                           text=True, timeout=timeout)
        self.assertEqual(osh_testdir.sanitizer_reports(r.stderr), [], r.stderr)
        return r

    def log(self):
        return read(os.path.join(self.tmp, "openshell.log"))

    def test_exit_code_is_the_childs(self):
        r = self.run_sup("--", "sh", "-c", "exit 3")
        self.assertEqual(r.returncode, 3)
        m = re.search(r"PROC:LAUNCH \[INFO\] ALLOWED sh\((\d+)\)", self.log())
        self.assertTrue(m, self.log())
        self.assertIn("PROC:TERMINATE [INFO] sh(%s) [exit:3]" % m.group(1), self.log())
        self.assertIn("LIFECYCLE:STOP [INFO] openshell-sandbox", self.log())
        self.assertEqual(r.stdout, "", "the supervisor never writes to stdout")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "openshell-ocsf.log")))

    def test_timeout_is_124(self):
        r = self.run_sup("--timeout", "300ms", "--", "sleep", "30")
        self.assertEqual(r.returncode, 124)
        self.assertRegex(self.log(), r"PROC:TERMINATE \[HIGH\] DENIED sleep\(\d+\)")
        self.assertRegex(self.log(), r"PROC:TERMINATE \[INFO\] sleep\(\d+\) \[exit:143\]")

    def test_not_found_is_127(self):
        r = self.run_sup("--", "no-such-command-osh-e2e")
        self.assertEqual(r.returncode, 127)
        self.assertIn("PROC:LAUNCH [HIGH] no-such-command-osh-e2e(0)", self.log())

    def test_bad_flag_is_125_and_named(self):
        r = self.run_sup("--timeout", "soon", "--", "true")
        self.assertEqual(r.returncode, 125)
        self.assertIn("--timeout", r.stderr)

    def test_unusable_log_dir_falls_back_to_stderr(self):
        notadir = os.path.join(self.tmp, "file")
        with open(notadir, "w") as f:
            f.write("x")
        r = subprocess.run([SANDBOX, "--log-dir", notadir, "--", "sh", "-c", "exit 4"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 4)
        self.assertRegex(r.stderr, r"OCSF LIFECYCLE:DISABLE \[MED\] .*log file")
        self.assertIn("LIFECYCLE:START [INFO] openshell-sandbox", r.stderr)
        self.assertRegex(r.stderr, r"PROC:TERMINATE \[INFO\] sh\(\d+\) \[exit:4\]")
        self.assertEqual(r.stdout, "")

    def test_bad_workdir_is_125_with_start_failed_event(self):
        r = self.run_sup("--workdir", os.path.join(self.tmp, "missing"), "--", "true")
        self.assertEqual(r.returncode, 125)
        self.assertIn("--workdir", r.stderr)
        self.assertIn("LIFECYCLE:STOP [HIGH] openshell-sandbox failure", self.log())
        self.assertNotIn("PROC:LAUNCH", self.log())

    def test_sighup_storm_is_coalesced(self):
        # F22: the agent (same uid) can send SIGHUP storms; each reopen burst
        # gives one line, at most one per second, so the log cannot be flooded.
        p = subprocess.Popen([SANDBOX, "--log-dir", self.tmp, "--", "sleep", "30"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: "PROC:LAUNCH [INFO]" in self.log(), 10, "PROC:LAUNCH")
            sent, t0 = 0, time.monotonic()
            while time.monotonic() - t0 < 2.5 and sent < 200000:
                p.send_signal(signal.SIGHUP)
                sent += 1
            wait_for(lambda: "signals since the last reopen" in self.log(), 5,
                     "the coalesced reopen line")
            wait_for(lambda: len(re.findall(r"SIGHUP: reopening log files \((\d+) signals? ",
                                            self.log())) >= 2, 5, "the last burst's line")
            counts = [int(c) for c in re.findall(
                r"SIGHUP: reopening log files \((\d+) signals? ", self.log())]
            elapsed = time.monotonic() - t0
            self.assertGreater(sent, 1000)
            self.assertLessEqual(len(counts), int(elapsed) + 2,
                                 "%d reopen lines for %d signals in %.1fs" %
                                 (len(counts), sent, elapsed))
            self.assertGreater(max(counts), 1, "signals were coalesced")
            self.assertLessEqual(sum(counts), sent)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=20), 128 + signal.SIGTERM)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_sigterm_forwards_flushes_and_exits_with_child_code(self):
        p = subprocess.Popen([SANDBOX, "--log-dir", self.tmp, "--"] + LOOP,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            m = wait_for(lambda: re.search(r"PROC:LAUNCH \[INFO\] ALLOWED sh\((\d+)\)",
                                           self.log()), 10, "PROC:LAUNCH")
            child = int(m.group(1))
            self.assertTrue(pid_alive(child))
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=20), 128 + signal.SIGTERM)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
        self.assertFalse(pid_alive(child), "child survived the supervisor")
        text = self.log()
        self.assertIn("PROC:TERMINATE [INFO] sh(%d)" % child, text)
        self.assertTrue(text.rstrip("\n").splitlines()[-1].find("LIFECYCLE:STOP") > 0,
                        "SUP_STOP is the last line: the log was flushed")

    def test_command_dies_with_a_killed_supervisor(self):
        p = subprocess.Popen([SANDBOX, "--log-dir", self.tmp, "--"] + LOOP,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            m = wait_for(lambda: re.search(r"PROC:LAUNCH \[INFO\] ALLOWED sh\((\d+)\)",
                                           self.log()), 10, "PROC:LAUNCH")
            child = int(m.group(1))
            p.kill()  # SIGKILL: no chance to forward anything
            p.wait(timeout=10)
            wait_for(lambda: not pid_alive(child), 10, "the command to die with its supervisor")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_local_policy_file(self):
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("version: 1\nfilesystem_policy:\n  read_onyl: [/usr]\n")
        r = self.run_sup("--policy", bad, "--", "true")
        self.assertEqual(r.returncode, 0)
        self.assertIn("CONFIG:FALLBACK [MED] local policy %s unusable" % bad, self.log())
        self.assertIn("bad.yaml:3:3: unknown key 'read_onyl'", self.log())
        good = os.path.join(self.tmp, "good.yaml")
        with open(good, "w") as f:
            f.write("version: 2\nnetwork_policies:\n  gh:\n    endpoints:\n"
                    "      - {host: api.github.com, port: 443}\n")
        r = self.run_sup("--policy", good, "--", "true")
        self.assertIn("CONFIG:LOADED [INFO] policy loaded from file %s (version 2, 1 network "
                      "policies)" % good, self.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
