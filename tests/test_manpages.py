"""irqd(8) and irqd.toml(5): generated from the parser and the config model, rendered by man."""
import argparse
import os
import re
import shutil
import subprocess
import typing
from pathlib import Path

import pytest

from irqd.cli import build_parser
from irqd.cli.manpage import DEFAULT_CONF, esc, irqd_toml_5, write_pages
from irqd.config import Config

pytestmark = pytest.mark.skipif(shutil.which("man") is None,
                                reason="man is not installed (apt-get install man-db groff-base)")


def render(page: Path) -> tuple[str, str]:
    """The page as man shows it at 80 columns, and what troff warned about."""
    env = {**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "", "LC_ALL": "C.UTF-8"}
    out = subprocess.run(["man", "--warnings", "-l", str(page)], check=False, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    # undo what rendering does to words: line-end hyphenation, Unicode hyphens and minus signs
    text = re.sub(r"[\u2010\u00ad]\n\s*", "", out.stdout)
    text = text.replace("\u2212", "-").replace("\u2010", "-")
    return " ".join(text.split()), out.stderr


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("man")
    eight, five = write_pages(outdir)
    return {"8": render(eight), "5": render(five), "paths": (eight, five)}


def walk(parser, prefix="irqd"):
    """(command words, parser) for every sub-command, nested ones included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield f"{prefix} {name}", child
                yield from walk(child, f"{prefix} {name}")


def test_pages_render_without_warnings(pages):
    for section in ("8", "5"):
        text, warnings = pages[section]
        assert warnings == "", f"section {section}: {warnings}"
        assert len(text) > 2000


def test_the_warning_check_can_fail(tmp_path):
    # a text line starting with ' is a troff request: the very mistake esc() prevents
    bad = tmp_path / "bad.1"
    bad.write_text(".TH BAD 1\n.SH NAME\nbad \\- x\n.SH DESCRIPTION\n'irqd config check' validates\n")
    assert "warning" in render(bad)[1]
    good = tmp_path / "good.1"
    good.write_text(".TH GOOD 1\n.SH NAME\ngood \\- x\n.SH DESCRIPTION\n" + esc("'irqd config check' validates") + "\n")
    assert render(good)[1] == ""


def test_irqd_8_has_every_command_and_option(pages):
    text, _ = pages["8"]
    parser = build_parser()
    commands = list(walk(parser))
    assert len(commands) >= 10        # show plan apply restore audit run status config(check, show) capture
    for words, sub in [("irqd", parser), *commands]:
        assert words in text, f"irqd(8) lacks the command {words!r}"
        for action in sub._actions:
            if action.help is argparse.SUPPRESS:
                for opt in action.option_strings:
                    assert not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", text), f"hidden {opt} shown"
                continue
            for opt in action.option_strings:
                assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", text), f"irqd(8) lacks {words} {opt}"
            for choice in action.choices or ():
                if not isinstance(action, argparse._SubParsersAction):
                    assert choice in text
            if sub.epilog and words != "irqd":
                assert " ".join(sub.epilog.split())[10:60] in text, f"{words}: epilog missing"


def test_irqd_toml_5_has_every_key_with_its_default(pages):
    text, _ = pages["5"]
    for name, field in Config.model_fields.items():
        nested = getattr(field.annotation, "model_fields", None)
        if nested is None and getattr(field.annotation, "__origin__", None) is list:
            nested = typing.get_args(field.annotation)[0].model_fields
            assert f"[[{name}]]" in text
        if nested is None:
            default = field.get_default()
            literal = f'"{default}"' if isinstance(default, str) else repr(default)
            shown = {True: "true", False: "false"}.get(default, literal)
            assert f"{name} = {shown}" in text, f"irqd.toml(5) lacks {name} = {shown}"
            continue
        for key, sub in nested.items():
            assert re.search(rf"(?<![\w.]){key}(?![\w])", text), f"irqd.toml(5) lacks {name}.{key}"
            if sub.get_default() is not None and not isinstance(sub.get_default(), (list, dict)):
                d = sub.get_default()
                shown = {True: "true", False: "false"}.get(d, repr(d)) if not isinstance(d, str) else f'"{d}"'
                assert f"{key} = {shown}" in text


def test_bounds_and_choices_come_from_the_model(pages):
    text, _ = pages["5"]
    assert '"spread" | "pack" | "node"' in text          # Config.policy's Literal
    assert "from 1 to 3600" in text                       # Daemon.interval's Field(ge=1, le=3600)
    assert "from 0 to 67108864" in text                   # rfs_entries' 1 << 26


def test_a_key_without_an_explanation_is_an_error():
    conf = DEFAULT_CONF.read_text()
    assert "# IRQ number" in conf
    with pytest.raises(SystemExit, match=r"irq\.irq"):
        irqd_toml_5(conf.replace("# IRQ number", ""))


def test_source_date_epoch_makes_the_pages_reproducible(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = [p.read_bytes() for p in write_pages(tmp_path / "a")]
    b = [p.read_bytes() for p in write_pages(tmp_path / "b")]
    assert a == b and b'"2023-11-14"' in a[0]
