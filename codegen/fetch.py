"""Fetch and verify the raw OCSF schema source for a pinned version.

DESIGN
The raw schema is never committed. This module downloads the ocsf-schema
GitHub tag archive (on a machine with internet), extracts only the files the
generator reads into schema/ocsf-<version>/, and verifies them against the
pin in schema/ocsf.yaml before the directory becomes visible (extract into a
temporary sibling, verify, rename). The pin is the sha256 of a canonical
manifest: one line "<sha256 of file>  <relative path>\n" per file, sorted by
path, over version.json, categories.json, dictionary.json and every *.json
under events/, objects/, profiles/ and metaschema/. It can be computed from
any copy of the tree (the tag archive, a git checkout, the shared copy), so a
pin made offline is verifiable online and vice versa. The fetched tree's
version.json must also name the requested version (the upstream 1.5.0 tag
points at a 1.6.0-dev commit; its pin names the release commit instead).

Usage: tools/ocsf-fetch-schema VERSION [--archive FILE | --from-dir DIR]
       tools/ocsf-fetch-schema --manifest DIR      (print the pin for DIR)
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request

import yaml

TOP_FILES = ("version.json", "categories.json", "dictionary.json")
DIRS = ("events", "objects", "profiles", "metaschema")
EXTRA = ("LICENSE", "NOTICE")  # copied for attribution, not part of the pin


def wanted(rel):
    rel = rel.replace(os.sep, "/")
    if rel in TOP_FILES:
        return True
    top = rel.split("/", 1)[0]
    return top in DIRS and rel.endswith(".json")


def manifest_lines(root):
    rows = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in filenames:
            full = os.path.join(dirpath, fn)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if wanted(rel):
                with open(full, "rb") as f:
                    rows.append((rel, hashlib.sha256(f.read()).hexdigest()))
    rows.sort()
    return "".join("%s  %s\n" % (h, rel) for rel, h in rows), len(rows)


def manifest_sha256(root):
    text, n = manifest_lines(root)
    return hashlib.sha256(text.encode()).hexdigest(), n


def version_of(root):
    """The "version" of root/version.json (None when unreadable)."""
    try:
        with open(os.path.join(root, "version.json"), encoding="utf-8") as f:
            v = json.load(f).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return v if isinstance(v, str) else None


def load_pin(repo, version):
    with open(os.path.join(repo, "schema", "ocsf.yaml"), encoding="utf-8") as f:
        sel = yaml.safe_load(f)
    pin = (sel.get("pins") or {}).get(version)
    if not pin or not pin.get("manifest_sha256"):
        raise SystemExit("ocsf-fetch-schema: no pin for OCSF %s in schema/ocsf.yaml (add one: "
                         "url, commit, manifest_sha256 from --manifest)" % version)
    return pin


def extract(archive, dest):
    """Extract the wanted files of a GitHub tag archive (one top directory)."""
    n = 0
    with tarfile.open(archive, "r:*") as tf:
        for m in tf.getmembers():
            parts = m.name.split("/", 1)
            if len(parts) != 2 or not m.isfile():
                continue
            rel = parts[1]
            if rel.startswith("/") or ".." in rel.split("/"):
                raise SystemExit("ocsf-fetch-schema: unsafe path in archive: %s" % m.name)
            if not (wanted(rel) or rel in EXTRA):
                continue
            out = os.path.join(dest, rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            src = tf.extractfile(m)
            with open(out, "wb") as f:
                shutil.copyfileobj(src, f)
            n += 1
    return n


def copy_tree(src, dest):
    n = 0
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for fn in sorted(filenames):
            rel = os.path.relpath(os.path.join(dirpath, fn), src).replace(os.sep, "/")
            if wanted(rel) or rel in EXTRA:
                out = os.path.join(dest, rel)
                os.makedirs(os.path.dirname(out), exist_ok=True)
                shutil.copyfile(os.path.join(dirpath, fn), out)
                n += 1
    return n


def main(argv=None):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(prog="ocsf-fetch-schema",
                                 description="Download and verify the raw OCSF schema source.")
    ap.add_argument("version", nargs="?")
    ap.add_argument("--archive", help="use a local tag archive (.tar.gz) instead of downloading")
    ap.add_argument("--from-dir", help="copy from a local checkout instead of downloading")
    ap.add_argument("--dest", help="target directory (default schema/ocsf-<version>)")
    ap.add_argument("--manifest", metavar="DIR", help="print the pin checksum of DIR and exit")
    args = ap.parse_args(argv)
    if args.manifest:
        h, n = manifest_sha256(args.manifest)
        print("%s  (%d files)" % (h, n))
        return 0
    if not args.version:
        ap.error("VERSION is required")
    pin = load_pin(repo, args.version)
    dest = os.path.abspath(args.dest or os.path.join(repo, "schema", "ocsf-" + args.version))
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".ocsf-fetch-", dir=parent)
    rc = 1
    try:
        if args.from_dir:
            n = copy_tree(args.from_dir, tmp)
        else:
            archive = args.archive
            if archive is None:
                archive = os.path.join(tmp, "archive.tar.gz")
                print("ocsf-fetch-schema: downloading %s" % pin["url"], file=sys.stderr)
                with urllib.request.urlopen(pin["url"], timeout=60) as r, \
                        open(archive, "wb") as f:
                    shutil.copyfileobj(r, f)
            tree = os.path.join(tmp, "tree")
            os.makedirs(tree)
            n = extract(archive, tree)
            if args.archive is None:
                os.remove(archive)
            for name in os.listdir(tree):
                os.replace(os.path.join(tree, name), os.path.join(tmp, name))
            os.rmdir(tree)
        got, files = manifest_sha256(tmp)
        if got != pin["manifest_sha256"]:
            print("ocsf-fetch-schema: checksum mismatch for OCSF %s: manifest of %d files is "
                  "%s, pinned %s; nothing installed" % (args.version, files, got,
                                                        pin["manifest_sha256"]),
                  file=sys.stderr)
            return 1
        vfile = version_of(tmp)
        if vfile != args.version:
            print("ocsf-fetch-schema: version.json of the fetched tree says %r, not %r (an "
                  "upstream tag on the wrong commit? pin the release commit); nothing "
                  "installed" % (vfile, args.version), file=sys.stderr)
            return 1
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.replace(tmp, dest)
        tmp = None
        print("ocsf-fetch-schema: OCSF %s verified (%d files, manifest %s) -> %s"
              % (args.version, files, got, dest))
        rc = 0
    finally:
        if tmp is not None and os.path.isdir(tmp):
            shutil.rmtree(tmp)
    return rc


if __name__ == "__main__":
    sys.exit(main())
