"""Hand-made miniature OCSF source trees for the codegen unit tests.

DESIGN
Each test writes a small, self-describing schema tree into a fresh temporary
directory (nothing from the official schema is copied), changes exactly the
part the rule under test needs, and runs the real loader/resolver/model.
"""

import copy
import json
import os
import tempfile

MS = "https://json-schema.org/draft/2020-12/schema"


def _ms(name, extra=None):
    s = {"$id": "https://schema.ocsf.io/%s.schema.json" % name, "$schema": MS,
         "type": "object",
         "properties": {"name": {"type": "string"},
                        "attributes": {"$ref": "attributes.schema.json"}},
         "required": ["name"]}
    if extra:
        s["properties"].update(extra)
    return s


def _e(caption):
    return {"caption": caption}


BASE = {
    "version.json": {"version": "9.0.0"},
    "metaschema/attributes.schema.json": {
        "$id": "https://schema.ocsf.io/attributes.schema.json", "$schema": MS,
        "type": "object"},
    "metaschema/dictionary.schema.json": _ms("dictionary", {"types": {"type": "object"}}),
    "metaschema/categories.schema.json": _ms("categories"),
    "metaschema/event.schema.json": _ms("event", {"uid": {"type": "integer"}}),
    "metaschema/object.schema.json": _ms("object"),
    "metaschema/profile.schema.json": _ms("profile", {"meta": {"const": "profile"}}),
    "categories.json": {"name": "category", "attributes": {
        "network": {"uid": 4, "caption": "Network Activity"}}},
    "dictionary.json": {
        "name": "dictionary",
        "types": {"attributes": {
            "string_t": {"caption": "String"}, "integer_t": {"caption": "Integer"},
            "long_t": {"caption": "Long"}, "boolean_t": {"caption": "Boolean"},
            "float_t": {"caption": "Float"}, "json_t": {"caption": "JSON"},
            "timestamp_t": {"caption": "Timestamp", "type": "long_t"},
            "port_t": {"caption": "Port", "type": "integer_t", "range": [0, 65535]},
            "file_name_t": {"caption": "File Name", "type": "string_t"},
            "ip_t": {"caption": "IP", "type": "string_t", "max_len": 40},
        }},
        "attributes": {
            "activity_id": {"caption": "Activity ID", "type": "integer_t",
                            "sibling": "activity_name",
                            "enum": {"0": _e("Unknown"), "99": _e("Other")}},
            "activity_name": {"caption": "Activity", "type": "string_t"},
            "category_uid": {"caption": "Category ID", "type": "integer_t",
                             "sibling": "category_name"},
            "category_name": {"caption": "Category", "type": "string_t"},
            "class_uid": {"caption": "Class ID", "type": "integer_t", "sibling": "class_name"},
            "class_name": {"caption": "Class", "type": "string_t"},
            "type_uid": {"caption": "Type ID", "type": "long_t", "sibling": "type_name"},
            "type_name": {"caption": "Type", "type": "string_t"},
            "severity_id": {"caption": "Severity ID", "type": "integer_t",
                            "sibling": "severity",
                            "enum": {"0": _e("Unknown"), "1": _e("Informational"),
                                     "99": _e("Other")}},
            "severity": {"caption": "Severity", "type": "string_t"},
            "status_id": {"caption": "Status ID", "type": "integer_t", "sibling": "status",
                          "enum": {"0": _e("Unknown"), "1": _e("Success"), "99": _e("Other")}},
            "status": {"caption": "Status", "type": "string_t"},
            "time": {"caption": "Time", "type": "timestamp_t"},
            "metadata": {"caption": "Metadata", "type": "metadata"},
            "event_code": {"caption": "Event Code", "type": "string_t"},
            "version": {"caption": "Version", "type": "string_t"},
            "profiles": {"caption": "Profiles", "type": "string_t", "is_array": True},
            "name": {"caption": "Name", "type": "string_t"},
            "file_name": {"caption": "File name", "type": "string_t"},
            "ip": {"caption": "IP", "type": "ip_t"},
            "port": {"caption": "Port", "type": "port_t"},
            "endpoint": {"caption": "Endpoint", "type": "endpoint"},
            "peers": {"caption": "Peers", "type": "endpoint", "is_array": True},
            "parent": {"caption": "Parent", "type": "endpoint"},
            "container": {"caption": "Container", "type": "string_t"},
            "unmapped": {"caption": "Unmapped", "type": "object"},
            "data": {"caption": "Data", "type": "json_t"},
            "score": {"caption": "Score", "type": "float_t"},
            "flag": {"caption": "Flag", "type": "boolean_t"},
            "old": {"caption": "Old", "type": "string_t",
                    "@deprecated": {"message": "Use name.", "since": "1.0.0"}},
            "method": {"caption": "Method", "type": "string_t",
                       "enum": {"GET": _e("Get"), "POST": _e("Post")}},
        },
    },
    "profiles/host.json": {"name": "host", "meta": "profile", "caption": "Host",
                           "annotations": {"group": "primary"},
                           "attributes": {"endpoint": {"requirement": "recommended"},
                                          "flag": {"requirement": "required"}}},
    "profiles/container.json": {"name": "container", "meta": "profile", "caption": "Container",
                                "attributes": {"container": {"requirement": "recommended"}}},
    "events/base_event.json": {
        "name": "base_event", "caption": "Base Event", "category": "other",
        "attributes": {
            "$include": ["profiles/host.json"],
            "activity_id": {"requirement": "required"},
            "activity_name": {"requirement": "optional"},
            "category_uid": {"requirement": "required",
                             "enum": {"0": _e("Uncategorized")}},
            "category_name": {"requirement": "optional"},
            "class_uid": {"requirement": "required"},
            "class_name": {"requirement": "optional"},
            "type_uid": {"requirement": "required"},
            "type_name": {"requirement": "optional"},
            "severity_id": {"requirement": "required"},
            "severity": {"requirement": "optional"},
            "status_id": {"requirement": "recommended"},
            "status": {"requirement": "optional"},
            "time": {"requirement": "required"},
            "metadata": {"requirement": "required"},
            "unmapped": {"requirement": "optional"},
            "old": {"requirement": "optional"},
        }},
    "events/network/net.json": {
        "name": "net", "caption": "Net", "category": "network", "extends": "base_event",
        "constraints": {"at_least_one": ["endpoint", "peers"]},
        "attributes": {"peers": {"requirement": "optional"},
                       "endpoint": {"requirement": "recommended", "profile": None}}},
    "events/network/net_activity.json": {
        "name": "net_activity", "caption": "Net Activity", "category": "network",
        "extends": "net", "uid": 1,
        "attributes": {
            "activity_id": {"enum": {"1": _e("Open"), "2": _e("Close")}},
            "status_id": {"enum": {"1": _e("Done"), "3": _e("Later")}},
            "method": {"requirement": "optional"},
        }},
    "objects/object.json": {"name": "object", "caption": "Object", "attributes": {}},
    "objects/metadata.json": {
        "name": "metadata", "caption": "Metadata", "extends": "object",
        "attributes": {"event_code": {"requirement": "optional"},
                       "version": {"requirement": "required"},
                       "profiles": {"requirement": "optional"}}},
    "objects/_thing.json": {
        "name": "_thing", "caption": "Thing", "extends": "object",
        "constraints": {"at_least_one": ["name", "ip"]},
        "attributes": {"name": {"requirement": "recommended"},
                       "ip": {"requirement": "recommended"}}},
    "objects/endpoint.json": {
        "name": "endpoint", "caption": "Endpoint", "extends": "_thing",
        "attributes": {"$include": "profiles/container.json",
                       "port": {"requirement": "optional"},
                       "parent": {"requirement": "optional"},
                       "status_id": {"requirement": "optional"},
                       "file_name": {"type": "file_name_t", "requirement": "optional"},
                       "data": {"requirement": "optional"},
                       "score": {"requirement": "optional"}}},
}

SELECTION = {"version": "9.0.0", "classes": {"net_activity": 4001, "base_event": 0},
             "profiles": ["container", "host"], "recursion_depth": 1}


def tree(changes=None, remove=()):
    """Return a fresh copy of the base file map with `changes` applied:
    {rel: obj} replaces a file, {rel: callable} edits a deep copy."""
    files = copy.deepcopy(BASE)
    for rel in remove:
        files.pop(rel, None)
    for rel, ch in (changes or {}).items():
        if callable(ch):
            ch(files[rel])
        else:
            files[rel] = ch
    return files


def write(files, root=None, selection=None):
    """Write a tree (and schema/ocsf.yaml selection) into a temp dir.
    Returns (schema_root, selection_path)."""
    root = root or tempfile.mkdtemp(prefix="codegen-test-")
    sroot = os.path.join(root, "src")
    for rel, obj in files.items():
        path = os.path.join(sroot, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            if isinstance(obj, str):
                f.write(obj)
            else:
                json.dump(obj, f, indent=1)
    sel = selection if selection is not None else SELECTION
    import yaml
    selp = os.path.join(root, "ocsf.yaml")
    with open(selp, "w", encoding="utf-8") as f:
        if isinstance(sel, str):
            f.write(sel)
        else:
            yaml.safe_dump(sel, f)
    return sroot, selp
