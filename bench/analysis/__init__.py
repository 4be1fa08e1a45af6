"""Analysis of records, pure: the best configuration of each optimizer (ranking), intervals over
seeds (stats) and the constraint verdicts per optimizer and λ."""
