"""The README opens with the two commands, and CI runs the second one word for word."""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def readme_commands():
    lines = REPO.joinpath("README.md").read_text().splitlines()
    start = lines.index("```sh")
    block = lines[start + 1:lines.index("```", start)]
    return [line for line in block if line and not line.startswith("#")]


def test_readme_opens_with_two_commands():
    install, test = readme_commands()
    assert install.endswith("irqd plan")
    assert "'.[test]'" in test and "pytest" in test


def test_ci_runs_the_readme_test_command():
    _, test = readme_commands()
    ci = [line.strip() for line in REPO.joinpath(".ci/run").read_text().splitlines()]
    assert test in ci, ".ci/run must run the README's test command word for word"
