"""The four image tools behind one interface (see tools.base)."""
