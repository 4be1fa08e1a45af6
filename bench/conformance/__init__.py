"""Optimizers probed from outside, in child processes under time limits: can an optimizer join the
benchmark (checks), and where does its weight decay really enter (decay_probe)."""
