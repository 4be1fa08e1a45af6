"""`wdbench`: one module per verb (parser + handler), the shared checks, `list --task`, task
options declared once, and the submitter's `sweep --with`."""

import argparse
import importlib
import json
import subprocess
import sys

import pytest

import bench.runner
from bench.cli import VERBS, build_parser, main
from tests.bench.helpers import REPO, TOY, wdbench

SUBMISSION = "tests.bench.submitted_optimizer:SignDescentW"
FACTORY = "tests.bench.submitted_optimizer:make_adam_l2"


@pytest.mark.parametrize("args,message", [
    (["run", "--task", "nope", "--optimizer", "adamw"], "unknown task 'nope'; available:"),
    (["run", "--task", TOY, "--optimizer", "adamz"], "unknown optimizer 'adamz'; available:"),
    (["run", "--task", TOY, "--optimizer", "nope.mod:Opt"],
     "cannot import optimizer 'nope.mod:Opt'"),
    (["run", "--task", TOY, "--optimizer", "adamw", "--set", "lr=0"], "lr must be > 0"),
    (["run", "--task", TOY, "--optimizer", "adamw", "--set", "weight_decay=-0.1"],
     "weight_decay must be >= 0"),
    (["run", "--task", TOY, "--optimizer", "adamw", "--set", "lr"], "--set expects key=value"),
    (["run", "--task", TOY, "--optimizer", "adamw", "--budget", "huge"],
     "has no budget 'huge'"),
    # Task options: checked against the task's declarations before any work.
    (["run", "--task", "quadratic", "--optimizer", "adamw", "--set", "task.dims=3"],
     "unknown quadratic option(s) dims; use task.NAME with NAME in: dim, kind"),
    (["run", "--task", "quadratic", "--optimizer", "adamw", "--set", "task.dim=abc"],
     "task.dim='abc' is not allowed; use an int >= 1"),
    (["run", "--task", "quadratic", "--optimizer", "adamw", "--set", "task.cond=0.5"],
     "task.cond=0.5 is not allowed; use a float >= 1"),
    (["sweep", "--task", "nope"], "has no default suite"),
    (["sweep", "missing.yaml"], "no suite file 'missing.yaml'"),
    (["sweep", "--task", "quadratic", "--optimizers", "myopt"],
     "optimizer(s) myopt not in suite quadratic"),
    (["sweep", "--task", "quadratic", "--with", "adamw"],
     "optimizer 'adamw' is already a baseline of suite quadratic; drop it from --with"),
    (["sweep", "--task", "quadratic", "--with", "tests.bench.nope:Opt"],
     "cannot import optimizer 'tests.bench.nope:Opt'"),
    (["list", "--task", "nope"], "unknown task 'nope'"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message, capsys):
    out = tmp_path / "out"
    extra = ["--out", str(out)] if args[0] != "list" else []
    assert main([*args, *extra]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
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
            "print(sorted(m for m in ('torch', 'transformers', 'seaborn', 'pandas', "
            "'accelerate') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True)
    assert res.stdout.strip() == "[]", res.stderr


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_each_verb_module_owns_its_parser_and_handler():
    verbs = _subparsers(build_parser())
    assert set(verbs) == {v.replace("_", "-") for v in VERBS}
    for verb in VERBS:
        module = importlib.import_module(f"bench.cli.{verb}")
        args = verbs[verb.replace("_", "-")].parse_args(
            {"run": ["--task", TOY, "--optimizer", "adamw"], "check_optimizer": ["adamw"],
             "status": ["results"], "export": ["results", "--to", "ds"]}
            .get(verb, []))
        assert args.handler is module.handle


def test_every_option_has_a_help_line():
    for verb, parser in _subparsers(build_parser()).items():
        for action in parser._actions:
            assert action.help, f"wdbench {verb} {action.dest} has no help"


def test_library_code_has_no_cli_entry_points():
    import bench.conformance
    import bench.report

    assert not hasattr(bench.conformance, "main") and not hasattr(bench.report, "main")
    assert callable(bench.report.render) and callable(bench.conformance.run_checks)


def test_run_uses_one_accelerator(tmp_path, monkeypatch, capsys):
    import accelerate

    built = []

    class Counting(accelerate.Accelerator):
        def __init__(self, *a, **k):
            built.append(1)
            super().__init__(*a, **k)

    monkeypatch.setattr(accelerate, "Accelerator", Counting)
    monkeypatch.setattr(bench.runner, "Accelerator", Counting)
    assert main(["run", "--task", TOY, "--optimizer", "adamw", "--budget", "smoke",
                 "--out", str(tmp_path), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "done" and record["optimizer"]["decay"] == "decoupled"
    assert len(built) == 1


def test_run_accepts_an_unregistered_module_attr_optimizer(tmp_path, capsys, monkeypatch):
    import optimizers

    # Resolving registers the name: keep it out of the registry other tests see.
    monkeypatch.setattr(optimizers.REGISTRY, "_specs", dict(optimizers.REGISTRY._specs))
    assert main(["run", "--task", TOY, "--optimizer", SUBMISSION, "--budget", "smoke",
                 "--set", "lr=0.01", "--out", str(tmp_path), "--quiet"]) == 0
    assert "done" in capsys.readouterr().out


def test_list_shows_tasks_optimizers_and_suites():
    res = wdbench("list")
    assert res.returncode == 0
    for name in ("quadratic", "adamw", "adam_l2", "signgd_wd", "lion"):
        assert name in res.stdout


def test_list_task_prints_budgets_and_declared_options(capsys):
    import tasks

    assert main(["list", "--task", "wikitext"]) == 0
    out = capsys.readouterr().out
    cls = tasks.get("wikitext")
    for budget in cls.budgets.values():  # name, steps, batch size on one row
        assert any(line.split()[:3] == [budget.name, str(budget.steps),
                                        str(budget.batch_size)] for line in out.splitlines())
    for option in cls.declared_options:
        row = next(line for line in out.splitlines() if line.split()[:1] == [option.name])
        assert option.type.__name__ in row and option.help in row
    assert any(line.split()[:3] == ["max_eval_tokens", "int", "null"]
               for line in out.splitlines())
    assert "one of wikitext-2-raw-v1, wikitext-2-v1" in out


def test_sweep_with_submissions_ranks_them_among_the_baselines(tmp_path):
    """The submitter's one command, end to end, with spawned workers (which must resolve the
    module:attr names themselves)."""
    out = tmp_path / "sweep"
    res = wdbench("sweep", "--task", "quadratic", "--budget", "smoke", "--optimizers",
                  "adamw", "--with", SUBMISSION, "--with", FACTORY, "--workers", "2",
                  "--out", str(out), "--quiet", timeout=600)
    assert res.returncode == 0, res.stderr
    records = [json.loads(p.read_text()) for p in (out / "trials").glob("*.json")]
    by_optimizer: dict[str, list] = {}
    for record in records:
        assert record["status"] == "done", record.get("error")
        by_optimizer.setdefault(record["config"]["optimizer"], []).append(record)
    # Baseline: the suite's 2 lr x 2 wd; the class declares 1 x 1; the factory declares no
    # grid: the registry's default 4 x 4. Each on the suite's 2 seeds.
    assert {k: len(v) for k, v in by_optimizer.items()} == {
        "adamw": 8, SUBMISSION: 2, FACTORY: 32}
    assert {r["config"]["seed"] for r in by_optimizer[SUBMISSION]} == {0, 1}
    assert {(r["config"]["lr"], r["config"]["weight_decay"])
            for r in by_optimizer[SUBMISSION]} == {(0.05, 2.0)}
    assert by_optimizer[FACTORY][0]["optimizer"]["decay"] == "coupled"
    assert {r["config"]["budget"] for r in records} == {"smoke"}
    assert {r["config"]["schedule"] for r in records} == {"inverse_sqrt"}
    # The task's leaderboard (one row per optimizer at its best lr, weight_decay) ranks all.
    boards = [[line.split(",")[0] for line in path.read_text().splitlines()[1:]]
              for path in (out / "report" / "tables").glob("leaderboard-*.csv")]
    assert sorted(["adamw", SUBMISSION, FACTORY]) in [sorted(b) for b in boards]
    assert SUBMISSION in (out / "report" / "index.html").read_text()
