"""Invalid strings are refused at the door, and every response decodes (F1, F2, N1).

DESIGN: a real gateway and a second gRPC stack (Python grpcio, which enforces
proto3's UTF-8 rule when decoding). Requests with invalid bytes are hand-encoded
(grpcio cannot produce them) and sent on raw method handles. What must hold:
 - invalid UTF-8 or a NUL byte in any string field, however deep (policy,
   map entries, repeated, stream messages), is INVALID_ARGUMENT naming the field;
 - nothing the gateway says afterwards breaks a conformant client: after a
   seeded random sequence of valid, corrupted and truncated requests, every
   read method decodes in Python;
 - the gateway's own notes are cut on a character boundary (F2).
"""
import os
import random
import sys
import unittest

import grpc

import osh_itest as it

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import osh_testdir  # noqa: E402

SVC = "/openshell.v1.OpenShell/"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def fld(num, b):
    if isinstance(b, str):
        b = b.encode()
    return varint((num << 3) | 2) + varint(len(b)) + b


def fvar(num, v):
    return varint(num << 3) + varint(v)


class WireStrings(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pb, cls.pbg = it.stubs()
        # supervisors behind the harness's tap (the real one, running `sleep`:
        # a command that ended by itself would race the teardown's delete,
        # which requires exit 143), so the supervisor methods can be called
        # with the sandbox's credential
        cls.dir = osh_testdir.TestDir("wire")  # validated, archived, removed
        cls.gw = it.Gateway(data_dir=cls.dir.path).start()
        cls.stub = cls.gw.stub
        r = cls.stub.CreateSandbox(cls.pb.CreateSandboxRequest(name="wire0",
                                                               command=["sleep", "60"]))
        cls.sid = r.sandbox.id

    @classmethod
    def tearDownClass(cls):
        try:
            cls.gw.kill_supervisors()  # supervisors stopped by delete exit 143
        finally:
            try:
                cls.gw.finish()  # exit 0 after SIGTERM
            finally:
                cls.dir.finish()  # JSONL valid, no sanitizer report, removed

    def raw(self, method, data):
        f = self.gw.channel.unary_unary(SVC + method, request_serializer=lambda x: x,
                                        response_deserializer=lambda x: x)
        return f(data, timeout=10)

    def raw_push(self, msgs):
        f = self.gw.channel.stream_unary(SVC + "PushSandboxLogs", request_serializer=lambda x: x,
                                         response_deserializer=lambda x: x)
        return f(iter(msgs), timeout=10, metadata=self.gw.md(self.sid))

    def refused(self, fn, *a):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*a)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT,
                         cm.exception.details())
        return cm.exception.details()

    def all_reads_decode(self):
        """Every read method answers something Python can decode."""
        pb, s = self.pb, self.stub
        lst = s.ListSandboxes(pb.ListSandboxesRequest(), timeout=10)
        s.GetConfig(pb.GetConfigRequest(), timeout=10)
        for sb in lst.sandboxes:
            s.GetSandboxLogs(pb.GetSandboxLogsRequest(sandbox_id=sb.id, lines=10000), timeout=10)
            s.GetSandboxPolicy(pb.GetSandboxPolicyRequest(sandbox_id=sb.id), timeout=10,
                               metadata=self.gw.md(sb.id))
            w = s.WatchSandboxLogs(pb.WatchSandboxLogsRequest(sandbox_id=sb.id, tail_lines=50),
                                   timeout=10)
            next(w)  # the replayed tail decodes
            w.cancel()
        return lst

    def test_invalid_utf8_and_nul_are_refused_naming_the_field(self):
        cases = [
            ("CreateSandbox", fld(1, "bad1") + fld(4, "echo") + fld(4, b"\xff\xfe"),
             "command: invalid UTF-8"),
            ("CreateSandbox", fld(1, "bad2") + fld(3, fld(2, fld(2, b"/usr/\xff"))) +
             fld(4, "true"), "policy.filesystem.read_only: invalid UTF-8"),
            ("CreateSandbox", fld(1, "bad3") + fld(6, fld(1, "K") + fld(2, b"\xc0\xaf")) +
             fld(4, "true"), "env.value: invalid UTF-8"),
            ("CreateSandbox", fld(1, b"a\x00b") + fld(4, "true"), "name: NUL byte"),
            ("CreateSandbox", fld(1, "bad5") + fld(2, b"version: 1\n# \xed\xa0\x80\n"),
             "policy_yaml: invalid UTF-8"),
            ("SetConfig", fld(1, "ocsf_logging_enabled") + fld(2, b"tr\x00ue"),
             "value: NUL byte"),
            ("GetSandboxLogs", fld(2, b"wire\xe2\x82"), "name: invalid UTF-8"),
            ("DeleteSandbox", fld(1, b"wire0\x00x"), "name: NUL byte"),
        ]
        for method, data, want in cases:
            msg = self.refused(self.raw, method, data)
            self.assertIn(want, msg, method)
        # stream messages: the first, and a later one
        good = fld(1, self.sid) + fld(2, fld(3, "INFO") + fld(5, "fine"))
        bad = fld(1, self.sid) + fld(2, fld(3, "INFO") + fld(5, b"m\xff") +
                                     fld(7, fld(1, "k") + fld(2, "v")))
        self.assertIn("logs.message: invalid UTF-8", self.refused(self.raw_push, [bad]))
        self.assertIn("logs.message: invalid UTF-8", self.refused(self.raw_push, [good, bad]))
        nul_key = fld(1, self.sid) + fld(2, fld(5, "x") + fld(7, fld(1, b"k\x00") + fld(2, "v")))
        self.assertIn("logs.fields.key: NUL byte", self.refused(self.raw_push, [nul_key]))
        names = [s.name for s in self.all_reads_decode().sandboxes]
        for n in ("bad1", "bad2", "bad3", "a", "bad5"):
            self.assertNotIn(n, names, "a refused request created %s" % n)

    def test_gateway_notes_are_cut_on_a_character_boundary(self):
        pb = self.pb
        for pad in range(4):
            name = "u8pad%d" % pad
            self.stub.CreateSandbox(pb.CreateSandboxRequest(  # running until deleted
                name=name, command=["sh", "-c", "exec sleep 60", "x" * pad + "\u20ac" * 600]))
            r = self.stub.GetSandboxLogs(pb.GetSandboxLogsRequest(name=name, sources=["gateway"]))
            self.assertGreater(len(r.logs), 0)
            for line in r.logs:
                line.message.encode("utf-8")  # decoded by grpcio already; still a str

    def test_random_sequence_every_response_decodes(self):
        rnd = random.Random(20261206)
        pb = self.pb
        valid = [
            ("CreateSandbox", pb.CreateSandboxRequest(
                name="rnd", command=["sh", "-c", "exec sleep 60", "h\u00e9 \u20ac \U0001F600"],
                env={"K\u00e9": "v\u20ac"}).SerializeToString()),
            ("GetSandboxLogs", pb.GetSandboxLogsRequest(name="wire0",
                                                        min_level="info").SerializeToString()),
            ("SetConfig", pb.SetConfigRequest(key="ocsf_logging_enabled",
                                              value="false").SerializeToString()),
            ("GetConfig", pb.GetConfigRequest(key="ocsf_logging_enabled").SerializeToString()),
        ]
        push_line = pb.SandboxLogLine(level="INFO", target="t\u00e9", message="m \u20ac",
                                      fields={"k\u00e9": "v\u20ac"})
        created = 0
        for i in range(240):
            if i % 4 == 3:
                data = pb.PushSandboxLogsRequest(sandbox_id=self.sid,
                                                 logs=[push_line]).SerializeToString()
                method = "PushSandboxLogs"
            else:
                method, data = valid[rnd.randrange(len(valid))]
            data = bytearray(data)
            if method == "CreateSandbox":
                data = bytearray(data.replace(b"rnd", b"r%03d" % i))
            if rnd.random() < 0.7 and data:
                for _ in range(rnd.randint(1, 3)):  # corrupt some bytes
                    data[rnd.randrange(len(data))] = rnd.choice(
                        [0x00, 0x80, 0xC0, 0xE2, 0xED, 0xF4, 0xFF, rnd.randrange(256)])
            if rnd.random() < 0.1:
                data = data[:rnd.randrange(len(data) + 1)]
            try:
                if method == "PushSandboxLogs":
                    self.raw_push([bytes(data)])
                else:
                    self.raw(method, bytes(data))
                created += method == "CreateSandbox"
            except grpc.RpcError as e:
                self.assertNotIn(e.code(), (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN,
                                            grpc.StatusCode.UNAVAILABLE), e.details())
            if i % 40 == 39:
                self.all_reads_decode()
        self.assertTrue(self.gw.alive())
        self.all_reads_decode()


if __name__ == "__main__":
    unittest.main()
