"""Integration: two openshell-gateway processes on one PostgreSQL database.

Run by ctest under tests/support/pg_cluster.sh (a temporary cluster on a Unix
socket; OSH_TEST_PG_DIR/USER/STOP/START in the environment). DESIGN: both
gateways are real processes with their own data dirs and --store on the same
database; the test talks to them over their sockets (grpcio) and to the
cluster only through the harness's stop/start commands. Every wait polls a
condition with a deadline.
"""

import glob
import os
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import osh_itest as it  # noqa: E402

import grpc  # noqa: E402


def store_uri():
    return "postgresql:///postgres?host=%s&user=%s" % (
        os.environ["OSH_TEST_PG_DIR"], os.environ.get("OSH_TEST_PG_USER", "postgres"))


def gateway_log_text(gw):
    text = ""
    for f in glob.glob(os.path.join(gw.data_dir, "openshell-gateway.log*")):
        with open(f, "rb") as fh:
            text += fh.read().decode("utf-8", "replace")
    return text


class TwoGateways(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pb, cls.pbg = it.stubs()
        extra = ["--store", store_uri()]
        cls.a = it.Gateway(extra=extra, sandbox="/bin/true").start()
        cls.b = it.Gateway(extra=extra, sandbox="/bin/true").start()

    @classmethod
    def tearDownClass(cls):
        # stop (exit 0), validate JSONL, archive logs for the census, remove
        for g in (cls.a, cls.b):
            g.finish()

    def create(self, gw, name):
        r = gw.stub.CreateSandbox(self.pb.CreateSandboxRequest(name=name, command=["true"]),
                                  timeout=20)
        return r.sandbox.id

    def test_a_sandbox_created_on_a_is_listed_logged_and_deleted_through_b(self):
        pb, a, b = self.pb, self.a, self.b
        sid = self.create(a, "shared-box")
        names = [s.name for s in b.stub.ListSandboxes(pb.ListSandboxesRequest(), timeout=10).sandboxes]
        self.assertIn("shared-box", names)
        # a second create of the name through B is refused: one namespace
        with self.assertRaises(grpc.RpcError) as cm:
            self.create(b, "shared-box")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.ALREADY_EXISTS)
        # the supervisor's lines arrive through A and are read through B
        t = it.now_ms()
        lines = [pb.SandboxLogLine(sandbox_id=sid, timestamp_ms=t + i, level="INFO", target="sup",
                                   message="line %d" % i, source="sandbox") for i in range(50)]
        a.stub.PushSandboxLogs(iter([pb.PushSandboxLogsRequest(sandbox_id=sid, logs=lines, first_seq=1)]),
                               timeout=20, metadata=a.md(sid))
        got = b.stub.GetSandboxLogs(pb.GetSandboxLogsRequest(sandbox_id=sid, lines=100,
                                                             sources=["sandbox"]), timeout=10)
        self.assertEqual([l.message for l in got.logs], ["line %d" % i for i in range(50)])
        b.stub.DeleteSandbox(pb.DeleteSandboxRequest(sandbox_id=sid), timeout=30)
        with self.assertRaises(grpc.RpcError) as cm:
            a.stub.GetSandboxLogs(pb.GetSandboxLogsRequest(sandbox_id=sid), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_ab_a_supervisor_created_on_a_is_authenticated_by_b(self):
        """Issue 16: credential digests live in the database, so a supervisor
        whose sandbox was created on A may push to and poll B; a wrong
        credential is refused on both."""
        pb, a, b = self.pb, self.a, self.b
        sid = self.create(a, "cred-box")
        other = self.create(b, "cred-other")
        md = a.md(sid)  # what A handed the supervisor
        t = it.now_ms()
        lines = [pb.SandboxLogLine(sandbox_id=sid, timestamp_ms=t + i, level="INFO", target="sup",
                                   message="via b %d" % i, source="sandbox") for i in range(20)]
        r = b.stub.PushSandboxLogs(iter([pb.PushSandboxLogsRequest(sandbox_id=sid, logs=lines,
                                                                   first_seq=1)]),
                                   timeout=20, metadata=md)
        self.assertEqual((r.accepted, r.acked_seq), (20, 20))
        got = a.stub.GetSandboxLogs(pb.GetSandboxLogsRequest(sandbox_id=sid, lines=100,
                                                             sources=["sandbox"]), timeout=10)
        self.assertEqual([l.message for l in got.logs], ["via b %d" % i for i in range(20)])
        pol = b.stub.GetSandboxPolicy(pb.GetSandboxPolicyRequest(sandbox_id=sid), timeout=10,
                                      metadata=md)
        self.assertGreater(pol.sandbox_config.config_revision, 0)
        # wrong credentials: refused on both gateways, nothing stored
        wrong = [(it.CRED_KEY, "0" * 64)]
        for gw in (a, b):
            with self.assertRaises(grpc.RpcError) as cm:
                gw.stub.PushSandboxLogs(iter([pb.PushSandboxLogsRequest(sandbox_id=sid,
                                                                        logs=lines[:1])]),
                                        timeout=20, metadata=wrong)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
            with self.assertRaises(grpc.RpcError) as cm:
                gw.stub.GetSandboxPolicy(pb.GetSandboxPolicyRequest(sandbox_id=sid), timeout=10,
                                         metadata=wrong)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
            # one sandbox's credential is not another's, on either gateway
            with self.assertRaises(grpc.RpcError) as cm:
                gw.stub.GetSandboxPolicy(pb.GetSandboxPolicyRequest(sandbox_id=other), timeout=10,
                                         metadata=md)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        got = b.stub.GetSandboxLogs(pb.GetSandboxLogsRequest(sandbox_id=sid, lines=100,
                                                             sources=["sandbox"]), timeout=10)
        self.assertEqual(len(got.logs), 20, "a refused push stored nothing")
        # labels given on A are selected through B
        lab = b.stub.ListSandboxes(pb.ListSandboxesRequest(label_selector="site=a"), timeout=10)
        self.assertEqual([s.name for s in lab.sandboxes], [])
        a.stub.CreateSandbox(pb.CreateSandboxRequest(name="cred-lab", command=["true"],
                                                     labels={"site": "a", "k": "v"}), timeout=20)
        lab = b.stub.ListSandboxes(pb.ListSandboxesRequest(label_selector="site=a"), timeout=10)
        self.assertEqual([(s.name, dict(s.labels)) for s in lab.sandboxes],
                         [("cred-lab", {"site": "a", "k": "v"})])
        # deleted through B: A refuses the credential at once (the digest
        # went with the record; A's cached copy only admits a call that then
        # finds no sandbox)
        b.stub.DeleteSandbox(pb.DeleteSandboxRequest(sandbox_id=sid), timeout=30)
        with self.assertRaises(grpc.RpcError) as cm:
            a.stub.PushSandboxLogs(iter([pb.PushSandboxLogsRequest(sandbox_id=sid, logs=lines[:1])]),
                                   timeout=20, metadata=md)
        self.assertIn(cm.exception.code(), (grpc.StatusCode.NOT_FOUND,
                                            grpc.StatusCode.PERMISSION_DENIED))
        for n in ("cred-other", "cred-lab"):
            b.stub.DeleteSandbox(pb.DeleteSandboxRequest(name=n), timeout=30)

    def test_b_concurrent_config_changes_share_one_revision_sequence(self):
        pb = self.pb
        results = {"a": [], "b": []}
        errors = []

        def worker(tag, gw):
            try:
                for i in range(100):
                    v = "true" if i % 2 == 0 else "false"
                    r = gw.stub.SetConfig(pb.SetConfigRequest(key="ocsf_logging_enabled", value=v),
                                          timeout=20)
                    results[tag].append((r.config_revision, r.changed, v))
            except Exception as e:  # reported below, the thread must not die silently
                errors.append("%s: %r" % (tag, e))

        ts = [threading.Thread(target=worker, args=(t, g)) for t, g in (("a", self.a), ("b", self.b))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(300)
        self.assertEqual(errors, [])
        by_rev = {}
        for tag in ("a", "b"):
            self.assertEqual(len(results[tag]), 100)
            changed = [r for r in results[tag] if r[1]]
            revs = [r[0] for r in changed]
            self.assertEqual(revs, sorted(set(revs)), "%s: revisions strictly increase" % tag)
            for rev, _, v in changed:
                # one number never names two different configs
                self.assertEqual(by_rev.setdefault(rev, v), v, "revision %d forked" % rev)
        # each gateway ends on its own last value, under a revision the database holds
        for tag, gw in (("a", self.a), ("b", self.b)):
            c = gw.stub.GetConfig(pb.GetConfigRequest(), timeout=10)
            vals = {e.key: e.value for e in c.entries}
            self.assertEqual(vals["ocsf_logging_enabled"], results[tag][-1][2])
            self.assertLessEqual(c.config_revision, max(by_rev))

    def test_c_database_outage_answers_unavailable_then_recovers(self):
        pb, a = self.pb, self.a
        self.assertEqual(subprocess.call(os.environ["OSH_TEST_PG_STOP"], shell=True), 0)
        try:
            with self.assertRaises(grpc.RpcError) as cm:
                a.stub.ListSandboxes(pb.ListSandboxesRequest(), timeout=10)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
            # what lives in memory is still served
            a.stub.GetConfig(pb.GetConfigRequest(), timeout=10)
        finally:
            self.assertEqual(subprocess.call(os.environ["OSH_TEST_PG_START"], shell=True), 0)

        def listed():
            try:
                a.stub.ListSandboxes(pb.ListSandboxesRequest(), timeout=10)
                return True
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE)
                return False

        it.wait_until(listed, 30, "gateway A to reconnect")
        it.wait_until(lambda: "NET:FAIL [HIGH] %s/postgresql" % os.environ["OSH_TEST_PG_DIR"]
                      in gateway_log_text(a), 10, "the outage event")
        try:
            it.wait_until(lambda: "NET:OPEN [INFO] %s/postgresql" % os.environ["OSH_TEST_PG_DIR"]
                          in gateway_log_text(a), 10, "the recovery event")
        except AssertionError:
            raise AssertionError("no recovery event in:\n" + gateway_log_text(a)[-3000:] + a.log()[-3000:])


if __name__ == "__main__":
    unittest.main()
