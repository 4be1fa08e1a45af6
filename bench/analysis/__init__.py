"""Analysis of records, pure: the best configuration of each optimizer (ranking) and intervals
over seeds (stats). The verdicts are the claims' (bench/claims)."""
