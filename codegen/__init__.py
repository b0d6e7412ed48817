"""codegen - the OCSF bindings generator for OpenShell (C).

DESIGN
A small compiler in four passes, each its own module so each can be tested on
hand-made schema trees:

  load (loader.py)     read the raw OCSF source tree, validate every file
                       against the schema's own metaschema/
  resolve (resolve.py) apply the OCSF resolution rules ($include, extends,
                       dictionary merge, enums, class identity)
  model (model.py)     pick the selected classes/profiles, compute the object
                       closure and every C name (structs, enums, constants)
  emit (emit_c.py, emit_schema.py)
                       write generated/c/*, generated/schema/*, manifest

Errors are raised as GenError naming the file and the JSON path; the command
line entry point (__main__.py) prints them and exits non-zero.
"""
