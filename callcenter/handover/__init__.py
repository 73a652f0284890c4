"""Handover: end-of-shift and permanent handover documents, accepted item by item, and the
check that nothing open is left without an owner."""
