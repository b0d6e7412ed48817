"""Emit strict JSON Schemas (placeholder until the schema emitter lands)."""


def emit_all(model):
    return {}
