"""Stacked trials (issue #14): T trials that differ only in lr, weight decay and seed share
every tensor op, each parameter one tensor with the trial dimension first."""
