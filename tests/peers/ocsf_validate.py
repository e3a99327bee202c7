"""Validate NDJSON OCSF events (stdin) against the official OCSF schema.

Each event is checked against the JSON schema of its class, for the OCSF
version in its metadata.version and the profiles in metadata.profiles, as
ocsf-json-schema builds it from schema.ocsf.io's own export of that version.
Prints one line per violation and exits 1 if there is any.
"""
import json
import sys

import jsonschema
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

validators = {}
errors = 0
count = 0
for n, line in enumerate(sys.stdin, 1):
    event = json.loads(line)
    count += 1
    meta = event["metadata"]
    key = (meta["version"], event["class_uid"], tuple(meta.get("profiles", [])))
    if key not in validators:
        schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=key[0]))
        name = schema.lookup_class_name_from_uid(class_uid=key[1])
        class_schema = schema.get_class_schema(class_name=name, profiles=list(key[2]))
        validators[key] = jsonschema.Draft202012Validator(class_schema)
    for err in validators[key].iter_errors(event):
        errors += 1
        path = "/".join(str(p) for p in err.absolute_path) or "(event)"
        print(f"line {n}: {path}: {err.message}")
if count == 0:
    print("no events on stdin")
    sys.exit(1)
print(f"{count} events, {errors} violations, versions {sorted(set(k[0] for k in validators))}")
sys.exit(1 if errors else 0)
