"""Command line: python3 -m codegen [options].

DESIGN
One entry point used by the regen target, the codegen_fresh test and
humans. It writes every output into a staging map first and only then to
disk, so a failure never leaves a half-written generated/ tree. Exit codes:
0 ok, 1 generator error (message names file and JSON path), 2 usage,
3 no schema source found (the drift test maps this to "skipped"),
4 --check found differences.
"""

import argparse
import os
import subprocess
import sys

from .errors import GenError

EXIT_ERROR, EXIT_USAGE, EXIT_NO_SCHEMA, EXIT_DIFF = 1, 2, 3, 4


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def clang_format(text, assume, clang):
    """Format until a fixpoint: clang-format 14 is not always idempotent on
    long declarations, and generated/ must be stable under a later run."""
    for _ in range(4):
        out = _clang_format_once(text, assume, clang)
        if out == text:
            return out
        text = out
    raise GenError("%s does not reach a fixpoint on %s" % (clang, assume))


def _clang_format_once(text, assume, clang):
    try:
        p = subprocess.run([clang, "--assume-filename=" + assume], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except OSError as e:
        raise GenError("cannot run %s: %s (install clang-format or pass --clang-format)"
                       % (clang, e.strerror))
    if p.returncode != 0:
        raise GenError("%s failed on %s: %s" % (clang, assume, p.stderr.decode()[:500]))
    return p.stdout.decode()


def generate(root, selection, schema_dir=None, validate=True, clang="clang-format",
             sites=None):
    """Return ({path relative to generated/: text}, {path relative to docs/: text},
    model). `sites` is the site registry (None: no registry outputs)."""
    from . import emit_c, emit_schema, emit_shared, emit_sites, emit_versions
    from .loader import RawSchema, find_schema_dir
    from .model import Model, load_selection
    from .sites import load_registry
    from .resolve import Resolver

    sel = load_selection(selection)
    sdir = schema_dir or find_schema_dir(root, sel["version"])
    raw = RawSchema(sdir, validate=validate)
    model = Model(Resolver(raw), sel)
    out = {}
    # clang-format finds the repository's .clang-format from this path
    for name, text in (("c/ocsf_gen.h", emit_c.emit_header(model)),
                       ("c/ocsf_gen.c", emit_c.emit_source(model)),
                       ("c/ocsf_shared.h", emit_shared.emit_header(model)),
                       ("c/ocsf_shared.c", emit_shared.emit_source(model))):
        out[name] = clang_format(text, os.path.join(root, "generated", name), clang)
    out.update(emit_schema.emit_all(model))
    docs = {}
    if sel.get("targets"):
        targets = emit_versions.load_targets(root, sel, validate)
        fills = emit_versions.load_fills(sel, model, targets)
        for name, text in (("c/ocsf_versions.h", emit_versions.emit_header(targets)),
                           ("c/ocsf_versions.c", emit_versions.emit_source(targets, fills))):
            out[name] = clang_format(text, os.path.join(root, "generated", name), clang)
        out.update(emit_versions.emit_schemas(targets))
        docs["siem-version-matrix.md"] = emit_versions.emit_matrix(model, targets, fills)
    if sites is not None:
        rel = os.path.relpath(sites, root)
        reg = load_registry(sites, model, rel if not rel.startswith("..") else sites)
        for name, text in (("c/osh_sites.h", emit_sites.emit_header(reg)),
                           ("c/osh_sites.c", emit_sites.emit_source(reg))):
            out[name] = clang_format(text, os.path.join(root, "generated", name), clang)
        out["sites.json"] = emit_sites.emit_json(reg)
        docs["log-sites.md"] = emit_sites.emit_docs(reg)
    return out, docs, model


def write_tree(outdir, files):
    for rel in sorted(files):
        path = os.path.join(outdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(files[rel])
        os.replace(tmp, path)
    # remove stale outputs of a previous run (only files we own the pattern of)
    for sub, ext in (("c", (".h", ".c")), ("schema", (".schema.json",))):
        d = os.path.join(outdir, sub)
        if os.path.isdir(d):
            for fn in sorted(os.listdir(d)):
                rel = sub + "/" + fn
                if fn.endswith(ext) and rel not in files:
                    os.remove(os.path.join(d, fn))


def compare(outdir, files, own_dirs=("c", "schema")):
    diffs = []
    for rel in sorted(files):
        path = os.path.join(outdir, rel)
        try:
            with open(path, "r", encoding="utf-8") as f:
                cur = f.read()
        except OSError:
            diffs.append("missing: " + rel)
            continue
        if cur != files[rel]:
            diffs.append("differs: " + rel)
    for sub in own_dirs:
        d = os.path.join(outdir, sub)
        if os.path.isdir(d):
            for fn in sorted(os.listdir(d)):
                rel = sub + "/" + fn
                if (fn.endswith((".h", ".c", ".schema.json"))) and rel not in files:
                    diffs.append("stale (not generated any more): " + rel)
    return diffs


def main(argv=None):
    root = repo_root()
    ap = argparse.ArgumentParser(prog="python3 -m codegen",
                                 description="Generate OCSF C bindings and JSON Schemas.")
    ap.add_argument("--selection", default=os.path.join(root, "schema", "ocsf.yaml"))
    ap.add_argument("--schema-dir", help="raw OCSF source (default: search, see docs)")
    ap.add_argument("--out", default=os.path.join(root, "generated"),
                    help="output directory (default: generated/ in the source tree)")
    ap.add_argument("--sites", help="site registry (default: schema/sites.yaml when "
                    "--selection is the default one; otherwise none)")
    ap.add_argument("--docs-out", default=os.path.join(root, "docs"),
                    help="where the generated docs pages go (default: docs/)")
    ap.add_argument("--check", metavar="DIR",
                    help="generate into --out, then compare with DIR (exit 4 on drift)")
    ap.add_argument("--check-docs", metavar="DIR", default=os.path.join(root, "docs"),
                    help="with --check: compare the generated docs pages with DIR "
                    "(default: docs/)")
    ap.add_argument("--no-validate", action="store_true",
                    help="skip metaschema validation (debugging only)")
    ap.add_argument("--clang-format", default=os.environ.get("CLANG_FORMAT", "clang-format"))
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    sites = args.sites
    if sites is None and os.path.abspath(args.selection) == os.path.join(root, "schema",
                                                                          "ocsf.yaml"):
        sites = os.path.join(root, "schema", "sites.yaml")
    try:
        files, docs, model = generate(root, args.selection, args.schema_dir,
                                      not args.no_validate, args.clang_format, sites)
    except GenError as e:
        print("codegen: error: %s" % e.format(), file=sys.stderr)
        return EXIT_NO_SCHEMA if e.msg.startswith("no OCSF") else EXIT_ERROR
    write_tree(args.out, files)
    if docs:
        write_tree(args.docs_out, docs)
    if not args.quiet:
        print("codegen: OCSF %s: %d classes, %d objects, %d enums -> %s"
              % (model.version, len(model.classes), len(model.objects), len(model.enums),
                 args.out))
    if args.check:
        diffs = compare(args.check, files)
        diffs += ["docs " + d for d in compare(args.check_docs, docs, own_dirs=())]
        if diffs:
            print("codegen: generated output differs from %s:\n  %s\n"
                  "run the regen target (cmake --build <dir> --target regen) and commit"
                  % (args.check, "\n  ".join(diffs)), file=sys.stderr)
            pairs = [(os.path.join(args.check, r), os.path.join(args.out, r), files[r])
                     for r in sorted(files)]
            pairs += [(os.path.join(args.check_docs, r), os.path.join(args.docs_out, r),
                       docs[r]) for r in sorted(docs)]
            for a, b, text in pairs:
                cur = None
                if os.path.exists(a):
                    with open(a, "r", encoding="utf-8") as f:
                        cur = f.read()
                if cur is not None and cur != text:
                    subprocess.run(["diff", "-u", a, b], stdout=sys.stderr, check=False)
                    break
            return EXIT_DIFF
    return 0


if __name__ == "__main__":
    sys.exit(main())
