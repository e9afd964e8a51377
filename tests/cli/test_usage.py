"""The command line's contract: version, help, and bad usage exit with status 2 and one line."""
from conftest import run_grove


def test_version():
    p = run_grove("--version")
    assert p.returncode == 0
    assert p.stdout.startswith("grove ")


def test_unknown_subcommand_is_bad_usage():
    p = run_grove("no-such-command")
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1
    assert "no-such-command" in p.stderr


def test_no_subcommand_is_bad_usage():
    p = run_grove()
    assert p.returncode == 2
