#!/usr/bin/python3
"""gen-man.py - a man page from a program's --help text.

DESIGN: the --help texts are the reference (they list every flag, variable
and exit code); the man page wraps one verbatim so the two never disagree.
Usage: gen-man.py PROGRAM SECTION VERSION OUT [DESCRIPTION]
"""
import os
import subprocess
import sys


def roff_escape(line):
    line = line.replace("\\", "\\e")
    if line.startswith((".", "'")):
        line = "\\&" + line
    return line


def main():
    prog, section, version, out = sys.argv[1:5]
    desc = sys.argv[5] if len(sys.argv) > 5 else ""
    name = os.path.basename(prog)
    r = subprocess.run([prog, "--help"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0 or not r.stdout.strip():
        sys.exit("gen-man: %s --help failed (%d): %s" % (prog, r.returncode, r.stderr))
    text = r.stdout.replace(prog, name)
    lines = [
        '.TH "%s" "%s" "" "OpenShell %s" "OpenShell"' % (name.upper(), section, version),
        ".SH NAME",
        "%s \\- %s" % (name, desc or "part of OpenShell"),
        ".SH DESCRIPTION",
        "The text below is the program's own \\fB\\-\\-help\\fR output.",
        ".PP",
        ".nf",
    ]
    lines += [roff_escape(ln) for ln in text.rstrip("\n").split("\n")]
    lines += [".fi", ".SH SEE ALSO",
              "\\fBopenshell\\fR(1), \\fBopenshell-gateway\\fR(8), \\fBopenshell-sandbox\\fR(8)"]
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
