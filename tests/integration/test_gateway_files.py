"""The files the gateway touches are safe (F13, F14, F15, F16, F18), end to end.

DESIGN: the report's reproductions against the real openshell-gateway and CLI
(fault6.sh, dual.sh, symlog.sh): a FIFO as the config file, a symlinked config
and `config set` (which keeps its value in the store and leaves the file, the
link and a symlink planted at the old predictable temp name alone), a
second gateway on a running gateway's data dir, a symlink planted where a
sandbox's directory goes. Each asserts what the attacker wanted did not happen.
"""
import os
import stat
import subprocess
import time
import unittest

import grpc

import osh_itest as it


class GatewayFiles(unittest.TestCase):
    def setUp(self):
        self.pb, _ = it.stubs()
        self.dir = it.osh_testdir.TestDir("files")
        self.tmp = self.dir.path
        self.gws = []

    def tearDown(self):
        try:
            for g in self.gws:
                alive = g.alive()
                g.kill_supervisors()
                rc = g.stop()
                if alive:
                    self.assertEqual(rc, 0, "gateway exit after SIGTERM: " + g.log())
        finally:
            self.dir.finish()  # JSONL valid, no sanitizer report, dir removed

    def gateway(self, data, extra=()):
        os.makedirs(data, exist_ok=True)
        g = it.Gateway(data_dir=data, extra=["--sandbox-bin", "/bin/true"] + list(extra))
        self.gws.append(g)
        return g.start()

    def test_fifo_config_at_start_is_an_error_not_a_hang(self):
        data = os.path.join(self.tmp, "m7")
        os.makedirs(data)
        os.mkfifo(os.path.join(data, "gateway.yaml"))
        t0 = time.monotonic()
        r = subprocess.run([it.GATEWAY, "--data-dir", data],
                           capture_output=True, text=True, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertIn("a FIFO, not a regular file", r.stderr)

    def test_fifo_swapped_in_while_running_does_not_hang_the_gateway(self):
        data = os.path.join(self.tmp, "d")
        g = self.gateway(data)
        conf = os.path.join(data, "gateway.yaml")
        os.mkfifo(conf + ".fifo")
        os.replace(conf + ".fifo", conf)
        os.kill(g.proc.pid, 1)  # SIGHUP: reload the YAML file
        r = g.cli("config", "get", timeout=10, check=0)
        self.assertIn("ocsf_logging_enabled", r.stdout)
        it.wait_until(lambda: "FIFO" in g.log(), 10, "the reload error in the log")

    def test_config_set_keeps_a_symlinked_config_and_never_follows_a_planted_temp(self):
        data = os.path.join(self.tmp, "d")
        conf_dir = os.path.join(self.tmp, "conf")
        os.makedirs(conf_dir)
        real = os.path.join(conf_dir, "real.yaml")
        link = os.path.join(conf_dir, "gateway.yaml")
        with open(real, "w") as f:
            f.write("ocsf_logging_enabled: false\n")
        os.symlink("real.yaml", link)
        g = self.gateway(data, ["--config", link])
        victim = os.path.join(self.tmp, "victim.txt")
        with open(victim, "w") as f:
            f.write("precious\n")
        os.symlink(victim, "%s.tmp.%d" % (real, g.proc.pid))  # the old predictable name
        os.symlink(victim, "%s.tmp.%d" % (link, g.proc.pid))
        # config set keeps its value in the store (schema 5): the config file,
        # its link and anything planted next to it are not touched at all
        g.cli("config", "set", "ocsf_logging_enabled", "true", check=0)
        self.assertIn("= true (bool, rpc)",
                      g.cli("config", "get", "ocsf_logging_enabled", check=0).stdout)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n", "F15: a planted link was written through")
        self.assertTrue(stat.S_ISLNK(os.lstat(link).st_mode), "F14: the symlink was replaced")
        with open(real) as f:
            self.assertEqual(f.read(), "ocsf_logging_enabled: false\n")
        # without the value set by RPC, edits of the real file through the
        # link are seen (reload on change)
        g.cli("settings", "delete", "--key", "ocsf_logging_enabled", check=0)
        self.assertIn("= false (bool, file)",
                      g.cli("config", "get", "ocsf_logging_enabled", check=0).stdout)
        with open(real + ".new", "w") as f:
            f.write("ocsf_logging_enabled: true\n")
        os.replace(real + ".new", real)
        os.kill(g.proc.pid, 1)
        it.wait_until(lambda: "= true (bool, file)" in g.cli("config", "get",
                                                              "ocsf_logging_enabled",
                                                              check=0).stdout,
                      10, "the edit to apply")

    def test_a_second_gateway_on_the_data_dir_refuses_without_touching_it(self):
        data = os.path.join(self.tmp, "d15")
        g = self.gateway(data)
        addr = open(os.path.join(data, "gateway.addr")).read()
        sock = os.stat(g.addr[len("unix:"):])
        # the same socket (default), then a TCP port besides it
        for extra in ([], ["--listen", "127.0.0.1:0", "--insecure-tcp"]):
            r = subprocess.run([it.GATEWAY, "--data-dir", data] + extra,
                               capture_output=True, text=True, timeout=20)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("in use by another gateway (pid %d" % g.proc.pid, r.stderr)
            self.assertEqual(open(os.path.join(data, "gateway.addr")).read(), addr,
                             "gateway.addr of the running gateway was touched")
            self.assertEqual(os.stat(g.addr[len("unix:"):]).st_ino, sock.st_ino,
                             "the running gateway's socket was replaced")
        g.cli("config", "get", check=0)

    def test_a_planted_sandbox_dir_symlink_is_refused(self):
        data = os.path.join(self.tmp, "d31")
        g = self.gateway(data)
        outside = os.path.join(self.tmp, "outside31")
        os.makedirs(outside)
        os.symlink(outside, os.path.join(data, "sandboxes", "nextbox"))
        with self.assertRaises(grpc.RpcError) as cm:
            g.stub.CreateSandbox(self.pb.CreateSandboxRequest(name="nextbox", command=["true"]))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("is a symlink or not a directory: refused", cm.exception.details())
        self.assertEqual(os.listdir(outside), [], "files were written outside the data dir")
        names = [s.name for s in g.stub.ListSandboxes(self.pb.ListSandboxesRequest()).sandboxes]
        self.assertNotIn("nextbox", names)


if __name__ == "__main__":
    unittest.main()
