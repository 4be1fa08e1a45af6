"""Pure measures of a trial's state (SPEC §3, §5): constraint metrics per norm, rotational
equilibrium, EMA timescales, time-to-target scores and separability numbers. Functions of tensors
and numbers only: no ledger, no training."""
