"""The engine: trains one trial (runner.py, the loop) or a stacked group of trials (stacked/),
on one context per trial (context.py), measures it at its evaluation points (evaluation.py),
checkpoints it (checkpoints.py) and writes its record (record.py). It knows no executor: a
batch of trials comes in (bench/trial/batch.py), records go to the ledger."""
