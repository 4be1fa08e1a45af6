"""A running batch's progress file (bench/ledger/progress.py): written at the first report and
the first training step, then at most every `every_s` seconds of its clock and at the last
step, read back by batch and by trial. The clock is a number the test sets, not real time."""

from __future__ import annotations

from bench.ledger.progress import BatchProgress, ProgressFiles, ProgressWriter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_writer_writes_the_first_step_then_every_interval_and_the_last(tmp_path):
    files, clock, told = ProgressFiles(tmp_path), Clock(), []
    writer = ProgressWriter(files, "g1", ["a", "b"], every_s=1.0, clock=clock, also=told.append)
    writer.start()
    assert files.read_all()["g1"].step == 0
    written = []
    for step in range(1, 101):
        clock.now = step * 0.25  # four steps a second
        writer(step, 100, 1 if step > 50 else 0)
        written.append(files.read_all()["g1"].step)
    # Steps 1, 5, 9, ... (one a second), and 100 (the last).
    assert told == [1, *range(5, 100, 4), 100]
    assert sorted(set(written)) == told
    last = files.read_all()["g1"]
    assert (last.trials, last.step, last.steps, last.diverged) == (["a", "b"], 100, 100, 1)
    assert last.fraction == 1.0
    assert files.by_trial()["b"] == last
    writer.close()
    assert files.read_all() == {}


def test_the_first_training_step_is_written_after_the_first_evaluations(tmp_path):
    files, clock = ProgressFiles(tmp_path), Clock()
    writer = ProgressWriter(files, "g", ["a", "b"], every_s=1.0, clock=clock)
    for i in range(2):
        writer(0, 10, 0, (i, 2))  # both members evaluated at step 0, within a second
    writer(1, 10, 0)
    writer(2, 10, 0)
    assert writer.writes == 2 and files.read_all()["g"].step == 1


def test_a_slow_step_is_written_at_once(tmp_path):
    files, clock = ProgressFiles(tmp_path), Clock()
    writer = ProgressWriter(files, "t", ["t1"], every_s=1.0, clock=clock)
    for step, now in ((1, 0.0), (2, 0.5), (3, 2.0), (4, 2.1)):
        clock.now = now
        writer(step, 10, 0)
    assert writer.writes == 2 and files.read_all()["t"].step == 3


def test_readers_skip_old_and_damaged_files(tmp_path):
    files = ProgressFiles(tmp_path)
    files.write("old", BatchProgress(["x"], 5, 10, 0, updated=100.0))
    files.write("new", BatchProgress(["y"], 5, 10, 0, updated=200.0))
    (files.dir / "broken.json").write_text("{")
    assert set(files.read_all()) == {"old", "new"}
    assert set(files.read_all(since=150.0)) == {"new"}
    assert BatchProgress(["z"], 3, 0).fraction == 0.0  # steps not known yet
