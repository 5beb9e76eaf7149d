"""bash and zsh completion generated from the parser (shtab), exercised in a real shell."""
import argparse
import shlex
import shutil
import subprocess

import pytest

from irqd.cli import build_parser
from irqd.cli.completion import write_scripts


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    bash, zsh = write_scripts(tmp_path_factory.mktemp("completion"))
    return {"bash": bash, "zsh": zsh}


def complete_bash(script, words: list[str], cwd=None) -> list[str]:
    """What bash offers for the last word, via the function `complete -p irqd` names."""
    quoted = " ".join(shlex.quote(w) for w in words)
    prog = f"""
source {shlex.quote(str(script))}
fn=$(complete -p irqd | sed -n 's/.*-F \\([^ ]*\\) irqd$/\\1/p')
[ -n "$fn" ] || {{ echo 'no completion function for irqd' >&2; exit 3; }}
COMP_WORDS=({quoted}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}
"$fn" irqd "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    out = subprocess.run(["bash", "--norc", "-c", prog], check=False, capture_output=True, text=True, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return [w for w in out.stdout.split("\n") if w]


def subcommands(parser):
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_bash_completes_commands_from_the_parser(scripts):
    assert complete_bash(scripts["bash"], ["irqd", "pl"]) == ["plan"]
    assert set(complete_bash(scripts["bash"], ["irqd", ""])) == set(subcommands(build_parser()))


def test_bash_completes_every_option_of_every_command(scripts):
    for name, sub in subcommands(build_parser()).items():
        offered = set(complete_bash(scripts["bash"], ["irqd", name, "-"]))
        for action in sub._actions:
            for opt in action.option_strings:
                if action.help is argparse.SUPPRESS:
                    assert opt not in offered, f"hidden {opt} offered"
                else:
                    assert opt in offered, f"irqd {name}: {opt} not offered ({sorted(offered)})"


def test_bash_completes_choices_nested_commands_and_paths(scripts, tmp_path):
    assert complete_bash(scripts["bash"], ["irqd", "plan", "--format", ""]) == ["table", "json", "diff", "svg", "html"]
    assert set(complete_bash(scripts["bash"], ["irqd", "config", ""])) == {"check", "show"}
    (tmp_path / "tree-a").mkdir()
    (tmp_path / "tree-file").write_text("")
    assert complete_bash(scripts["bash"], ["irqd", "plan", "--root", "tree-"], cwd=tmp_path) == ["tree-a"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (apt-get install zsh)")
def test_zsh_script_parses_and_defines_the_completion(scripts):
    out = subprocess.run(["zsh", "-n", str(scripts["zsh"])], check=False, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    text = scripts["zsh"].read_text()
    assert text.startswith("#compdef irqd")
    for name in subcommands(build_parser()):
        assert f'"{name}:' in text or f"'{name}:" in text or f"{name}:" in text
