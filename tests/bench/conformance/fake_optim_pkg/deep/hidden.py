"""An optimizer only a submodule exports."""

from tests.bench.conformance.fake_optim_pkg import DeclaredDecoupled, SwitchMomentum

__all__ = ["SwitchMomentum", "DeepOnly"]


class DeepOnly(DeclaredDecoupled):
    pass
