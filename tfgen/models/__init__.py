"""The models, one per module, each named after its file (``tfgen.registry`` imports them all)."""
