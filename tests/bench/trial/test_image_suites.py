"""The image suites: the four optimizers of the study on at least a 4 x 4 grid, 2+ seeds."""

import pytest

import tasks
from bench.trial import suite as suites


@pytest.mark.parametrize("name", ["cifar10", "mnist", "fashion_mnist"])
def test_image_suite_grid(name):
    suite = suites.load(suites.resolve(None, name))
    assert suite.task == name and suite.budget == "cpu"
    assert name in tasks.available()
    assert set(suite.optimizers) == {"adamw", "adam_l2", "signgd_wd", "lion"}
    assert len(suite.seeds) >= 2
    trials = suite.trials("cpu")
    for opt in suite.optimizers:
        grid = {(t.lr, t.weight_decay) for t in trials if t.optimizer == opt}
        assert len({lr for lr, _ in grid}) >= 4 and len({wd for _, wd in grid}) >= 4
        assert len([t for t in trials if t.optimizer == opt]) == len(grid) * len(suite.seeds)
