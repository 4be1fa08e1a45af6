"""Submitted optimizers: one file each, registered with `@optimizers.register(...)`.

Every module here whose name does not start with `_` is imported on first use of the registry.
"""
