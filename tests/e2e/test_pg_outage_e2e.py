#!/usr/bin/python3
"""End-to-end: a PostgreSQL outage during pushes loses and repeats nothing.

DESIGN
Issue 16's supervisor-level outage: a real openshell-sandbox (heartbeat every
20 ms, so about 50 lines/s) pushes through a real openshell-gateway whose
store is a temporary PostgreSQL cluster (run by ctest under
tests/support/pg_cluster.sh). The cluster is killed with `pg_ctl stop -m
immediate` (a crash: open transactions die with it) while lines keep coming,
then started again. The gateway must answer UNAVAILABLE meanwhile (the
supervisor records the answer in openshell.log), log the outage and the
recovery as events (NET:FAIL / NET:OPEN .../postgresql), and reconnect by
itself; the supervisor keeps the unacknowledged lines and resends them. Then
the supervisor is stopped with SIGTERM (which flushes its push) and its local
openshell.log is compared with the rows in PostgreSQL (read with psql): every
line exactly once (a multiset equality: no line missing, none stored twice)
and no line reported lost. The outage is about 2 s; with the supervisor's
push backoff (1 s doubling) delivery resumes within seconds of the restart,
far below the 40 s that fill its 2000-line buffer at this rate. Every wait polls a condition with a deadline;
nothing sleeps for synchronisation.
"""
import glob
import os
import signal
import subprocess
import sys
import time
import unittest
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import osh_testdir  # noqa: E402
from test_push_e2e import LOST, local_lines  # noqa: E402
from test_supervisor_e2e import CLI, GATEWAY, SANDBOX, pid_alive, read, wait_for  # noqa: E402

PG_DIR = os.environ.get("OSH_TEST_PG_DIR", "")
PG_USER = os.environ.get("OSH_TEST_PG_USER", "postgres")
OUTAGE_LINES = 100  # lines the supervisor writes while the database is down (~2 s)


def psql_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    return found[-1] if found else "psql"


def psql(sql):
    """Rows of a query as lists of strings (unit/record separators: any text)."""
    r = subprocess.run([psql_bin(), "-h", PG_DIR, "-U", PG_USER, "-d", "postgres", "-At",
                        "-F", "\x1f", "-R", "\x1e", "-c", sql],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("psql %s: %s" % (sql, r.stderr))
    return [row.split("\x1f") for row in r.stdout.rstrip("\n").split("\x1e") if row]


class PgOutage(unittest.TestCase):
    def setUp(self):
        if not PG_DIR:
            self.fail("run under tests/support/pg_cluster.sh (OSH_TEST_PG_DIR unset)")
        self.dir = osh_testdir.TestDir("pg-outage-e2e")
        self.data = os.path.join(self.dir.path, "data")
        os.makedirs(self.data)
        self.gw = None
        self.pid = 0
        self.pg_down = False

    def tearDown(self):
        if self.pg_down:
            subprocess.call(os.environ["OSH_TEST_PG_START"], shell=True)
        if self.pid and pid_alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
        if self.gw and self.gw.poll() is None:
            self.gw.terminate()
            self.gw.wait(timeout=20)
        self.dir.finish()

    def gateway_events(self):
        return "".join(read(f) for f in glob.glob(os.path.join(self.data,
                                                                "openshell-gateway.log*")))

    def test_kill_postgresql_during_pushes_every_line_arrives_once(self):
        uri = "postgresql:///postgres?host=%s&user=%s" % (PG_DIR, PG_USER)
        env = dict(os.environ, OPENSHELL_POLL_INTERVAL="200ms", OPENSHELL_HEARTBEAT="20ms")
        errlog = os.path.join(self.data, "gateway.stderr")
        with open(errlog, "a") as err:
            self.gw = subprocess.Popen(
                [GATEWAY, "--data-dir", self.data, "--store", uri, "--sandbox-bin", SANDBOX,
                 "--log-retention", "1000000"],
                stdout=err, stderr=err, env=env, start_new_session=True)
        addr = wait_for(lambda: read(os.path.join(self.data, "gateway.addr")).strip(), 20,
                        "gateway.addr")
        r = subprocess.run([CLI, "--gateway", addr, "sandbox", "create", "--name", "pgo", "--",
                            "sleep", "600"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        sid = psql("SELECT id FROM sandboxes WHERE name = 'pgo'")[0][0]
        self.pid = int(psql("SELECT pid FROM sandboxes WHERE name = 'pgo'")[0][0])
        log = os.path.join(self.data, "sandboxes", "pgo", "logs", "openshell.log")
        count_sql = "SELECT count(*) FROM log_lines WHERE sandbox_id = '%s'" % sid
        wait_for(lambda: int(psql(count_sql)[0][0]) >= 100, 30, "lines stored before the outage")

        # the crash, while the supervisor keeps writing
        self.assertEqual(subprocess.call(os.environ["OSH_TEST_PG_STOP"], shell=True), 0)
        self.pg_down = True
        at_stop = len(local_lines(log))
        # the supervisor's own record of the gateway's answer
        wait_for(lambda: "UNAVAILABLE: store:" in read(log), 30,
                 "the supervisor told UNAVAILABLE by the gateway (openshell.log)")
        wait_for(lambda: "NET:FAIL [HIGH] %s/postgresql" % PG_DIR in self.gateway_events(), 30,
                 "the outage event")
        wait_for(lambda: len(local_lines(log)) >= at_stop + OUTAGE_LINES, 30,
                 "%d lines written during the outage" % OUTAGE_LINES)
        self.assertEqual(subprocess.call(os.environ["OSH_TEST_PG_START"], shell=True), 0)
        self.pg_down = False
        wait_for(lambda: "NET:OPEN [INFO] %s/postgresql" % PG_DIR in self.gateway_events(), 30,
                 "the recovery event")
        # delivery resumed: what was written during the outage gets stored
        wait_for(lambda: int(psql(count_sql)[0][0]) >= at_stop + OUTAGE_LINES, 30,
                 "the outage's lines stored after the restart")

        os.kill(self.pid, signal.SIGTERM)  # flushes the push
        wait_for(lambda: not pid_alive(self.pid), 30, "the supervisor to exit")
        local = local_lines(log)
        stored = []
        for lv, tg, msg in psql("SELECT level, target, message FROM log_lines WHERE "
                                "sandbox_id = '%s' AND source = 'sandbox' ORDER BY seq" % sid):
            stored.append((lv, msg if lv == "OCSF" else "%s: %s" % (tg, msg)))
        lost = [t for lv, t in local if lv == "OCSF" and LOST.match(t)]
        lc, sc = Counter(local), Counter(stored)
        self.assertEqual(lost, [], "lines reported lost")
        self.assertEqual(list((sc - lc).elements())[:3], [], "stored twice or never written")
        self.assertEqual(list((lc - sc).elements())[:3], [], "written but never stored")
        self.assertEqual(len(stored), len(local))
        self.assertGreater(len(local), at_stop + OUTAGE_LINES)
        print("\nPostgreSQL outage: %d lines written, %d stored once each, %d during the outage"
              % (len(local), len(stored), OUTAGE_LINES), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
