"""A record's git revision: HEAD's 12 hex digits, '+dirty' for uncommitted changes to tracked
files, None outside a repository or before its first commit."""

from __future__ import annotations

import subprocess

from bench.engine.environment import git_revision


def _git(root, *args):
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_head_dirty_untracked_and_no_repository(tmp_path):
    assert git_revision(tmp_path) is None  # not a repository
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.org")
    _git(tmp_path, "config", "user.name", "t")
    (tmp_path / "a.py").write_text("x = 1\n")
    assert git_revision(tmp_path) is None  # no commit yet
    _git(tmp_path, "add", "a.py")
    _git(tmp_path, "commit", "-qm", "one")
    head = _git(tmp_path, "rev-parse", "--short=12", "HEAD")
    assert git_revision(tmp_path) == head
    (tmp_path / "notes.txt").write_text("untracked\n")
    assert git_revision(tmp_path) == head  # untracked files leave it clean
    (tmp_path / "a.py").write_text("x = 2\n")
    assert git_revision(tmp_path) == head + "+dirty"
    _git(tmp_path, "add", "a.py")
    assert git_revision(tmp_path) == head + "+dirty"  # staged, not committed
