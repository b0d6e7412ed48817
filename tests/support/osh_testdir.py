"""osh_testdir.py - the one way a Python test makes, checks and removes its
directory (twin of tests/support/osh_testdir.h; same rules).

DESIGN
Every JSONL log a test writes is validated against the generated schema
before the directory goes away, every log file is copied to $OSH_TEST_LOG_DIR
for the site census, and nothing is left in $TMPDIR. Use it as a context
manager or call finish() from tearDown:

    with osh_testdir.TestDir("e2e") as d:   # d.path
        ...
"""
import os
import shutil
import subprocess
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VALIDATOR = os.path.join(ROOT, "tools", "ocsf-validate")


def is_jsonl(name):
    return "-ocsf.log" in name or name.endswith(".jsonl")


def is_log(name):
    return ".log" in name or is_jsonl(name)


class InvalidJsonl(AssertionError):
    pass


class TestDir:
    def __init__(self, tag="test"):
        self.path = tempfile.mkdtemp(prefix="osh-%s-" % tag)
        self.tag = tag

    def files(self, pred):
        out = []
        for d, _, names in os.walk(self.path):
            out.extend(os.path.join(d, n) for n in sorted(names) if pred(n))
        return sorted(out)

    def validate(self):
        """Raises InvalidJsonl with the validator's output on any invalid line."""
        jsonl = self.files(is_jsonl)
        if not jsonl:
            return 0
        r = subprocess.run(["/usr/bin/python3", VALIDATOR] + jsonl,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise InvalidJsonl("invalid OCSF JSONL under %s:\n%s%s"
                               % (self.path, r.stdout[-4000:], r.stderr[-2000:]))
        return len(jsonl)

    def archive(self):
        root = os.environ.get("OSH_TEST_LOG_DIR")
        logs = self.files(is_log)
        if not root or not logs:
            return
        dest = os.path.join(root, "%s-%d" % (os.path.basename(self.path), os.getpid()))
        os.makedirs(dest, exist_ok=True)
        for f in logs:
            rel = os.path.relpath(f, self.path).replace(os.sep, "_")
            shutil.copyfile(f, os.path.join(dest, rel))

    def finish(self):
        """Validate, archive, remove. Removal happens even when validation
        fails; the failure is raised afterwards."""
        if self.path is None:
            return
        err = None
        try:
            self.validate()
        except InvalidJsonl as e:
            err = e
        try:
            self.archive()
        finally:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None
        if err:
            raise err

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self.finish()
        else:
            try:
                self.finish()
            except InvalidJsonl:
                pass
        return False
