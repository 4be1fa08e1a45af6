"""wdbench optimizers: directions x decay styles, and a registry for submissions.

    optimizers.available()                 -> list of names
    optimizers.create(name, params, **hp)  -> torch.optim.Optimizer
    optimizers.spec(name)                  -> OptimizerSpec (decay style, defaults, grids, radius)
    @optimizers.register(name, decay_style=...)  registers a class or factory
"""

from __future__ import annotations

from optimizers.builtins import register_builtins
from optimizers.decay import DecayStyle, DecayTerms, decay_terms, implied_radius
from optimizers.registry import OptimizerSpec, Registry

REGISTRY = Registry()
register_builtins(REGISTRY)

register = REGISTRY.register
available = REGISTRY.available
spec = REGISTRY.spec
create = REGISTRY.create

__all__ = ["DecayStyle", "DecayTerms", "OptimizerSpec", "Registry", "available", "create",
           "decay_terms", "implied_radius", "register", "spec"]
