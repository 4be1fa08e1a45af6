import subprocess
import sys

import pytest

from tests.bench.helpers import REPO, TOY, wdbench


@pytest.mark.parametrize("args,message", [
    (["run", "--task", "nope", "--optimizer", "adamw"], "unknown task 'nope'; available:"),
    (["run", "--task", TOY, "--optimizer", "adamz"], "unknown optimizer 'adamz'; available:"),
    (["run", "--task", TOY, "--optimizer", "adamw", "--set", "lr=0"], "lr must be > 0"),
    (["run", "--task", TOY, "--optimizer", "adamw", "--set", "weight_decay=-0.1"],
     "weight_decay must be >= 0"),
    (["run", "--task", TOY, "--optimizer", "adamw", "--set", "lr"], "--set expects key=value"),
    (["run", "--task", TOY, "--optimizer", "adamw", "--budget", "huge"],
     "has no budget 'huge'"),
    (["sweep", "--task", "nope"], "has no default suite"),
    (["sweep", "missing.yaml"], "no suite file 'missing.yaml'"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    res = wdbench(*args, "--out", str(out))
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert not out.exists()


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    res = wdbench("run", "--task", TOY, "--optimizer", "adamw", "--budget", "smoke",
                  "--out", str(blocker / "out"))
    assert res.returncode == 2
    assert "cannot write to output directory" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from bench.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'transformers', 'seaborn', 'pandas') "
            "if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True)
    assert res.stdout.strip() == "[]"


def test_list_shows_tasks_optimizers_and_suites():
    res = wdbench("list")
    assert res.returncode == 0
    for name in ("quadratic", "adamw", "adam_l2", "signgd_wd", "lion"):
        assert name in res.stdout
