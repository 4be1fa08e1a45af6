"""A package that re-exports nothing: the audit reads its public submodules."""
