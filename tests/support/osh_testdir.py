"""osh_testdir.py - the one way a Python test makes, checks and removes its
directory (twin of tests/support/osh_testdir.h; same rules).

DESIGN
Every JSONL log a test writes is validated against the generated schema
before the directory goes away, every log file is copied to $OSH_TEST_LOG_DIR
for the site census, and nothing is left in $TMPDIR. The daemons a test
starts (gateway, supervisors) write their stderr into files under the
directory (gateway.stderr, sandboxes/<name>/supervisor.stderr, *.out): the
same finish() fails the test when any of them holds a sanitizer report
(AddressSanitizer, LeakSanitizer, UBSan "runtime error:"), so the ASan+UBSan
pass sees the daemons' exit paths too, delete/SIGTERM included. Exit codes
are checked with check_exit(). Use it as a context
manager or call finish() from tearDown:

    with osh_testdir.TestDir("e2e") as d:   # d.path
        ...
"""
import os
import re
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


class SanitizerReport(AssertionError):
    pass


# What ASan/LSan/UBSan print when they find something (halt_on_error or not).
SANITIZER_RX = re.compile(r"ERROR: (?:AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)"
                          r"|^SUMMARY: \w+Sanitizer|: runtime error: ", re.M)


def is_daemon_output(name):
    """Files the tests point daemons' stdout/stderr at."""
    return name.endswith(".stderr") or name.endswith(".out") or name.endswith(".stdout")


def sanitizer_reports(text):
    """The lines of text that are sanitizer reports (empty list: none)."""
    return [ln for ln in text.splitlines() if SANITIZER_RX.search(ln)]


def check_exit(what, rc, allowed, output=""):
    """Fails (AssertionError) unless a daemon's exit code rc is in allowed;
    a negative rc (killed by a signal, Popen style) is named as such."""
    if rc in allowed:
        return
    how = "killed by signal %d" % -rc if rc is not None and rc < 0 else "exit %r" % (rc,)
    raise AssertionError("%s: %s, expected %s\n%s" % (what, how, sorted(allowed), output[-4000:]))


class TestDir:
    def __init__(self, tag="test"):
        self.path = tempfile.mkdtemp(prefix="osh-%s-" % tag)
        self.tag = tag
        self.extra_output = []  # daemon output files kept outside self.path

    def watch(self, path):
        """Also scan path (a daemon's stderr outside this dir) at finish()."""
        self.extra_output.append(path)

    def sanitizer_check(self):
        """Raises SanitizerReport naming each daemon output file that holds a
        sanitizer report."""
        bad = []
        for f in self.files(is_daemon_output) + list(self.extra_output):
            try:
                with open(f, "r", encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
            except OSError:
                continue
            found = sanitizer_reports(text)
            if found:
                bad.append("%s:\n  %s\n%s" % (f, "\n  ".join(found[:5]), text[-3000:]))
        if bad:
            raise SanitizerReport("sanitizer report in daemon output:\n" + "\n".join(bad))

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
        # --version auto: each line against the OCSF version it names (a
        # sandbox may write 1.1.0 .. 1.7.0: ocsf_schema_version, docs/siem.md)
        r = subprocess.run(["/usr/bin/python3", VALIDATOR, "--version", "auto"] + jsonl,
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
            self.sanitizer_check()
            self.validate()
        except (InvalidJsonl, SanitizerReport) as e:
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
            except (InvalidJsonl, SanitizerReport):
                pass
        return False
