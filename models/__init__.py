"""Backends that hold weights or talk to model servers (bottom layer: imports nothing of
studio/ or tools/)."""
