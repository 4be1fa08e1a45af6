"""`wdbench`: one module per verb (parser + handler), the shared checks, `list --task`, task
options declared once, and the submitter's `sweep --with`."""

import argparse
import importlib
import json
import os
import subprocess
import sys

import pytest

import bench.engine.runner
from bench.cli import VERBS, build_parser, main
from tests.bench.helpers import REPO, TOY, wdbench

SUBMISSION = "tests.bench.submitted_optimizer:SignDescentW"
FACTORY = "tests.bench.submitted_optimizer:make_adam_l2"


class Suite(str):
    """A suite file's content in a row of the table: written to tmp_path/suite.yaml and its
    path put in its place (bytes: a binary file)."""


class Binary(bytes):
    pass


class Fifo(str):
    """A named pipe where the suite file should be (nothing ever writes to it)."""


RUN = ["run", "--task", "quadratic", "--optimizer", "adamw", "--budget", "smoke"]
SWEEP = ["sweep", "--budget", "smoke"]
GRID = "optimizers:\n  adamw: {lr: [0.01], weight_decay: [1.0]}\n"


def _set(*items: str) -> list[str]:
    return [*RUN, *(a for item in items for a in ("--set", item))]


# One row per bad input: the command, and the text its one line of error must hold.
BAD_INPUTS = [
    (["run", "--task", "nope", "--optimizer", "adamw"], "unknown task 'nope'; available:"),
    (["run", "--task", TOY, "--optimizer", "adamz"], "unknown optimizer 'adamz'; available:"),
    (["run", "--task", TOY, "--optimizer", "nope.mod:Opt"],
     "cannot import optimizer 'nope.mod:Opt'"),
    (["run", "--task", TOY, "--optimizer", "adamw", "--set", "lr=0"],
     "lr=0 is not allowed; use a finite number > 0, e.g. 1e-3 (from --set)"),
    (["run", "--task", TOY, "--optimizer", "adamw", "--set", "weight_decay=-0.1"],
     "weight_decay=-0.1 is not allowed; use a finite number >= 0"),
    (["run", "--task", TOY, "--optimizer", "adamw", "--set", "lr"], "--set expects key=value"),
    (["run", "--task", TOY, "--optimizer", "adamw", "--budget", "huge"],
     "has no budget 'huge'"),
    # Task options: checked against the task's declarations before any work.
    (["run", "--task", "quadratic", "--optimizer", "adamw", "--set", "task.dims=3"],
     "unknown quadratic option(s) dims; use task.NAME with NAME in: dim, kind"),
    (["run", "--task", "quadratic", "--optimizer", "adamw", "--set", "task.dim=abc"],
     "task.dim='abc' is not allowed; use an int in [1, 1000000]"),
    (["run", "--task", "quadratic", "--optimizer", "adamw", "--set", "task.cond=0.5"],
     "task.cond=0.5 is not allowed; use a float in [1, 1e+12]"),
    (["sweep", "--task", "nope"], "has no default suite"),
    (["sweep", "missing.yaml"], "no suite file 'missing.yaml'"),
    (["sweep", "--task", "quadratic", "--optimizers", "myopt"],
     "optimizer(s) myopt not in suite quadratic"),
    (["sweep", "--task", "quadratic", "--with", "adamw"],
     "optimizer 'adamw' is already a baseline of suite quadratic; drop it from --with"),
    (["sweep", "--task", "quadratic", "--with", "tests.bench.nope:Opt"],
     "cannot import optimizer 'tests.bench.nope:Opt'"),
    (["list", "--task", "nope"], "unknown task 'nope'"),
    # Every key of the Trial, each with a bad value, from --set (run) ...
    (_set("lr=abc"), "lr='abc' is not allowed; use a finite number > 0"),
    (_set("lr=-1"), "lr=-1 is not allowed"),
    (_set("lr=.inf"), "lr=inf is not allowed"),
    (_set("weight_decay=.nan"), "weight_decay=nan is not allowed; use a finite number >= 0"),
    (_set("weight_decay=nan"), "weight_decay=nan is not allowed"),
    (_set("weight_decay=inf"), "weight_decay='inf' is not allowed"),
    (_set("weight_decay=true"), "weight_decay=True is not allowed"),
    (_set("seed=-1"), "seed=-1 is not allowed; use a non-negative integer <= 4294967295 (from "
                       "--set)"),
    (_set("seed=1.5"), "seed=1.5 is not allowed"),
    (["run", "--task", "quadratic", "--optimizer", "adamw", "--seed", "-3"],
     "seed=-3 is not allowed; use a non-negative integer <= 4294967295 (from --seed)"),
    (_set("steps=0"), "steps=0 is not allowed; use an integer >= 1"),
    (_set("steps=ten"), "steps='ten' is not allowed"),
    (_set("warmup=-5"), "warmup=-5 is not allowed"),
    (_set("eval_every=0"), "eval_every=0 is not allowed"),
    (_set("checkpoint_every=0"), "checkpoint_every=0 is not allowed"),
    (_set("grad_accum=0"), "grad_accum=0 is not allowed"),
    (_set("grad_accum=3"), "grad_accum=3 is not allowed; use a divisor of the batch size"),
    (_set("schedule=nosuch"), "schedule='nosuch' is not allowed; use one of constant, "
                              "inverse_sqrt, cosine, warmup_cosine (from --set)"),
    (_set("mask=nosuch"), "mask='nosuch' is not allowed; use one of all, matrices, none, "
     "matrices_no_embeddings"),
    # A policy of another task (the language model's): the trial's task names its own.
    (_set("mask=matrices_no_embeddings"), "mask='matrices_no_embeddings' is not allowed; use "
     "one of all, matrices, none (task quadratic)"),
    (_set("mixed_precision=fp8"), "mixed_precision='fp8' is not allowed; use one of no, bf16"),
    (_set("budget=huge"), "budget='huge' is not allowed; use one of smoke, cpu, full"),
    # ... optimizer options against the constructor ...
    (_set("unknownkey=1"), "unknownkey=1 is not allowed; use a key of the trial"),
    (_set("momentum=0.9"), "momentum=0.9 is not allowed; use a key of the trial"),
    (_set("betas=[0.9]"), "betas=(0.9,) is not allowed; use what adamw accepts"),
    (_set("betas=[1.5,0.9]"), "betas=(1.5, 0.9) is not allowed"),
    (_set("eps=-1"), "eps=-1 is not allowed; use what adamw accepts"),
    (_set("decay=nosuch"), "decay='nosuch' is not allowed; use what adamw accepts (unknown "
                           "decay style"),
    (_set("impl=nosuch"), "impl='nosuch' is not allowed"),
    (["run", "--task", "quadratic", "--optimizer", "sgdw", "--set", "momentum=1.5"],
     "momentum=1.5 is not allowed; use what sgdw accepts"),
    # ... task options against the task's declarations.
    (_set("task.dim=0"), "task.dim=0 is not allowed; use an int in [1, 1000000] (from --set)"),
    # ... values of the right type that no instance can be built with (they failed late).
    (_set("task.dim=1e5"), "task.dim=100000 is not allowed; use at most 4096 with "
                           "task.kind=dense"),
    (_set("task.dim=1e7", "task.kind=diagonal"), "task.dim=10000000.0 is not allowed; use an "
                                                  "int in [1, 1000000]"),
    (_set("task.dim=1000000", "task.kind=diagonal", "task.noise=0.5"),
     "task.noise_samples=256 is not allowed; use at most 134 at task.dim=1000000"),
    (_set("task.kappa=1e-320"), "task.kappa=1e-320 is not allowed; use a float in [1e-06, "),
    (_set("task.cond=.inf"), "task.cond=inf is not allowed; use a float in [1, 1e+12]"),
    (_set("task.weight_decay_ref=1e300"), "task.weight_decay_ref=1e+300 is not allowed"),
    (_set(f"task.instance_seed={2**64}"), f"task.instance_seed={2**64} is not allowed; "
                                          f"use an int in [0, {2**63 - 1}]"),
    (["run", "--task", "matrix_quadratic", "--optimizer", "adamw", "--set", "task.rows=1e9"],
     "task.rows=1000000000.0 is not allowed; use an int in [1, 4096]"),
    (_set("seed=4294967296"), "seed=4294967296 is not allowed; use a non-negative integer "
                              "<= 4294967295"),
    (["run", "--task", "quadratic", "--optimizer", "adamw", "--seed", str(2**64)],
     "is not allowed; use a non-negative integer <= 4294967295"),
    # ... a module:attr that is not a task, and names that name nothing.
    (["run", "--task", "builtins:print", "--optimizer", "adamw"],
     "task 'builtins:print' is a builtin_function_or_method, not a Task subclass"),
    (["run", "--task", "json:JSONDecoder", "--optimizer", "adamw"],
     "task 'json:JSONDecoder' is a type, not a Task subclass"),
    (["run", "--task", ":Task", "--optimizer", "adamw"], "cannot import task ':Task'"),
    (["run", "--task", "tasks.base:Task:x", "--optimizer", "adamw"],
     "cannot import task 'tasks.base:Task:x'"),
    (["sweep", "--task", "quadratic", "--optimizers", ","], "--optimizers ',' names no "
                                                            "optimizer"),
    (["sweep", "--task", "quadratic", "--optimizers", " "], "names no optimizer"),
    (_set("task.kind=nosuch"), "task.kind='nosuch' is not allowed; use one of"),
    (_set("lr=1e-3", "=3"), "--set expects key=value"),
    (["run", "--task", "quadratic", "--optimizer", "adamw", "--out", ""], "--out is empty"),
    # Suite files: every key, at every level, and the file itself.
    ([*SWEEP, Suite("task: quadratic\noptimizers:\n  adamw: {lr: 0.1, weight_decay: .nan}\n")],
     "weight_decay=nan is not allowed; use a finite number >= 0, e.g. 0.1 (from "),
    ([*SWEEP, Suite("task: quadratic\nschedule: nosuch\n" + GRID)],
     "schedule='nosuch' is not allowed; use one of constant"),
    ([*SWEEP, Suite("task: quadratic\noptimizers:\n  adamw: {lr: [], weight_decay: [1.0]}\n")],
     "key adamw.lr: the list is empty"),
    ([*SWEEP, Suite("task: quadratic\nseeds: []\n" + GRID)], "key 'seeds': the list is empty"),
    ([*SWEEP, Suite("task: quadratic\nseeds: [-1]\n" + GRID)], "key 'seeds': must be a "),
    ([*SWEEP, Suite("task: quadratic\nseeds: [x]\n" + GRID)], "key 'seeds': must be a "
                                                             "non-negative integer <= 4294967295"),
    ([*SWEEP, Suite("task: quadratic\nseeds: [4294967296]\n" + GRID)],
     "suite.yaml:2: key 'seeds': must be a non-negative integer <= 4294967295"),
    ([*SWEEP, Suite("task: quadratic\noptimizers:\n  adamw: {lr: [" +
                    ", ".join(f"{i}e-4" for i in range(1, 1001)) + "], weight_decay: [" +
                    ", ".join(f"{i}e-3" for i in range(1, 1001)) + "]}\n")],
     "suite 'suite' has 1000000 trials (adamw: 1000 lr x 1000 weight_decay x 1 seeds), more "
     "than 100000 in one sweep"),
    ([*SWEEP, Suite("task: quadratic\n" + GRID), "--time-min", "1"],
     "--time-min 1 leaves no time before the requeue warning, sent 90 s before the time "
     "limit"),
    ([*SWEEP, Suite("task: quadratic\nsettings: [1, 2]\n" + GRID)],
     "key 'settings': must be a mapping"),
    ([*SWEEP, Suite("task: quadratic\nsettings: {task.dim: 0}\n" + GRID)],
     "task.dim=0 is not allowed"),
    ([*SWEEP, Suite("task: quadratic\nsettings: {nosuch: 1}\n" + GRID)],
     "nosuch=1 is not allowed; use a key of the trial"),
    ([*SWEEP, Suite("task: quadratic\nnosuch: 1\n" + GRID)], "suite.yaml:2: key 'nosuch': "
                                                              "unknown key"),
    ([*SWEEP, Suite("task: quadratic\noptimizers:\n  adamw: {lr: [0.01], weight_decay: [1.0], "
                    "momentum: 0.9}\n")], "momentum=0.9 is not allowed"),
    ([*SWEEP, Suite("task: quadratic\noptimizers:\n  adamw: {lr: [0.01], weight_decay: [1.0], "
                    "betas: [[0.9, 1.0]]}\n")], "suite.yaml:3)"),
    ([*SWEEP, Suite("task: quadratic\noptimizers:\n  adamw: {lr: [0.01], weight_decay: "
                    "[-1]}\n")], "weight decay must be >= 0"),
    ([*SWEEP, Suite("task: quadratic\noptimizers:\n  adamw: {lr: [0], weight_decay: "
                    "[1]}\n")], "learning rates must be > 0"),
    ([*SWEEP, Suite("task: quadratic\noptimizers:\n  adamw: [1, 2]\n")], "must be a mapping"),
    ([*SWEEP, Suite("task: quadratic\noptimizers:\n  adamz: {lr: 1, weight_decay: 1}\n")],
     "unknown optimizer 'adamz'"),
    ([*SWEEP, Suite("task: quadratic\noptimizers: {}\n")], "key 'optimizers': must map"),
    ([*SWEEP, Suite("task: quadratic\n")], "missing key 'optimizers'"),
    ([*SWEEP, Suite(GRID)], "missing key 'task'"),
    ([*SWEEP, Suite("task: [quadratic]\n" + GRID)], "key 'task': must be a task name"),
    ([*SWEEP, Suite("task: nosuch\n" + GRID)], "unknown task 'nosuch'"),
    ([*SWEEP, Suite("task: quadratic\nname: [x]\n" + GRID)], "key 'name': must be text"),
    # A suite's name becomes the default output directory results/<name>.
    ([*SWEEP, Suite("task: quadratic\nname: ../..\n" + GRID)],
     "suite.yaml:2: key 'name': '../..' is not a folder name"),
    ([*SWEEP, Suite("task: quadratic\nname: /tmp/elsewhere\n" + GRID)],
     "key 'name': '/tmp/elsewhere' is not a folder name"),
    ([*SWEEP, Suite("task: quadratic\nname: a/../../b\n" + GRID)],
     "key 'name': 'a/../../b' is not a folder name"),
    ([*SWEEP, Suite("task: quadratic\nname: ..\n" + GRID)], "is not a folder name"),
    ([*SWEEP, Suite("task: quadratic\ndescription: 3\n" + GRID)],
     "key 'description': must be text"),
    (["sweep", Suite("task: quadratic\nbudget: huge\n" + GRID)], "has no budget 'huge'"),
    ([*SWEEP, Suite("task: quadratic\nexecutor: {nosuch: 1}\n" + GRID)],
     "unknown executor key 'nosuch'"),
    ([*SWEEP, Suite("task: quadratic\nlog_with: nosuch\n" + GRID)], "key 'log_with'"),
    ([*SWEEP, Suite("task: quadratic\nmixed_precision: fp8\n" + GRID)],
     "mixed_precision='fp8' is not allowed"),
    ([*SWEEP, Suite("task: quadratic\nsteps: 0\n" + GRID)], "steps=0 is not allowed"),
    ([*SWEEP, Suite("- task: quadratic\n")], "a suite is a mapping"),
    ([*SWEEP, Suite("task: [unclosed\n")], "malformed YAML"),
    ([*SWEEP, Suite("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a]\n"
                    "c: &c [*b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c]\n")],
     "suite.yaml:2: YAML aliases (*name) are not allowed"),
    ([*SWEEP, Binary(b"\x89PNG\r\n\x1a\n\x00\x00")], "is not a text file"),
    ([*SWEEP, "{tmp}"], "is no suite file (not a regular file: a directory)"),
    ([*SWEEP, Fifo()], "is no suite file (not a regular file: a named pipe)"),
    ([*SWEEP, "/dev/zero"], "/dev/zero is no suite file (not a regular file: a character "
                            "device)"),
    ([*SWEEP, Binary(b"task: quadratic\n" + b"#" * (1 << 20))],
     "bytes, more than the 1048576 this file may have"),
    ([*SWEEP, Suite("task: quadratic\n" + GRID), "--workers", "0"], "--workers must be >= 1"),
    ([*SWEEP, Suite("task: quadratic\n" + GRID), "--set", "lr=0"], "lr=0 is not allowed"),
    ([*SWEEP, Suite("task: quadratic\n" + GRID), "--out", ""], "--out is empty"),
    (["report", "{tmp}/empty"], "no trial records in"),
    (["check-optimizer", "adamw", "--probe-timeout-s", "0"], "--probe-timeout-s must be > 0"),
]


@pytest.mark.parametrize("args,message", BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message, capsys):
    out = tmp_path / "out"
    (tmp_path / "empty").mkdir()
    argv = []
    for arg in args:
        if isinstance(arg, Fifo):
            os.mkfifo(tmp_path / "suite.yaml")
            arg = str(tmp_path / "suite.yaml")
        elif isinstance(arg, (Suite, Binary)):
            path = tmp_path / "suite.yaml"
            path.write_bytes(arg if isinstance(arg, Binary) else arg.encode())
            arg = str(path)
        argv.append(arg.replace("{tmp}", str(tmp_path)))
    extra = ["--out", str(out)] if args[0] in ("run", "sweep") and "--out" not in args else []
    assert main([*argv, *extra]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not out.exists()
    assert {p.name for p in tmp_path.iterdir()} <= {"empty", "suite.yaml"}
    assert not any((tmp_path / "empty").iterdir())


def test_unwritable_output_directory(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["run", "--task", TOY, "--optimizer", "adamw", "--budget", "smoke",
                 "--out", str(blocker / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "cannot write to output directory" in lines[0], lines


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
             "status": ["results"], "export": ["results", "--to", "ds"],
             "claims": ["list"], "audit": ["torch.optim"]}
            .get(verb, []))
        assert args.handler is module.handle


def test_every_option_has_a_help_line():
    for verb, parser in _subparsers(build_parser()).items():
        for action in parser._actions:
            assert action.help, f"wdbench {verb} {action.dest} has no help"


def test_library_code_has_no_cli_entry_points():
    import bench.conformance.checks
    import bench.report

    assert not hasattr(bench.conformance.checks, "main") and not hasattr(bench.report, "main")
    assert callable(bench.report.render) and callable(bench.conformance.checks.run_checks)


def test_run_uses_one_accelerator(tmp_path, monkeypatch, capsys):
    import accelerate

    built = []

    class Counting(accelerate.Accelerator):
        def __init__(self, *a, **k):
            built.append(1)
            super().__init__(*a, **k)

    monkeypatch.setattr(accelerate, "Accelerator", Counting)
    monkeypatch.setattr(bench.engine.runner, "Accelerator", Counting)
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


def test_list_shows_tasks_optimizers_and_suites(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("quadratic", "adamw", "adam_l2", "signgd_wd", "lion"):
        assert name in out


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


@pytest.mark.e2e
def test_sweep_with_submissions_ranks_them_among_the_baselines(tmp_path):
    """The submitter's one command, end to end, with spawned workers (which must resolve the
    module:attr names themselves)."""
    out = tmp_path / "sweep"
    res = wdbench("sweep", "quadratic_short", "--budget", "smoke", "--optimizers",
                  "adamw", "--with", SUBMISSION, "--with", FACTORY, "--workers", "2",
                  "--out", str(out), "--quiet", timeout=600)
    assert res.returncode == 0, res.stderr
    assert "still running at exit" not in res.stderr  # no thread of ours outlives a sweep
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


@pytest.mark.e2e
def test_a_reader_that_leaves_early_gets_no_traceback():
    # `wdbench claims list | head -1`: the closed pipe ends the command quietly, exit 0.
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "bench", "claims", "list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == 0 and "Traceback" not in err, err
