"""irqd(8) and irqd.toml(5), generated so that they cannot drift.

irqd(8) is walked out of the argparse parser (the same one ``--help`` prints);
irqd.toml(5) out of the pydantic ``Config`` model (keys, types, choices,
bounds, defaults) together with the comments of ``conf/irqd.toml``, which
explain each key. A model key that conf/irqd.toml does not explain is an
error, so a new key cannot ship undocumented.

Why not argparse-manpage: its 4.8 release escapes only ``\\`` and ``-``, so
our own help text (a description starting with ``'irqd config check'``)
becomes a troff control line and ``man --warnings`` complains; it drops the
sub-commands' epilogs (the exit statuses) and reflows the examples; and it
has nothing for a config-file page, which needs a roff writer anyway.

    python -m irqd.cli.manpage OUTDIR [--conf conf/irqd.toml]

writes OUTDIR/irqd.8 and OUTDIR/irqd.toml.5. The date in ``.TH`` comes from
SOURCE_DATE_EPOCH when set (reproducible builds), else it is left empty.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import types
import typing
from pathlib import Path

from .. import __version__

DEFAULT_CONF = Path(__file__).resolve().parents[2] / "conf" / "irqd.toml"


# --- roff -----------------------------------------------------------------

def esc(text: str) -> str:
    """Text for a roff text line: backslashes and hyphens escaped, no control line.

    A line starting with ``.`` or ``'`` is a request to troff, so it gets a
    zero-width ``\\&`` in front; ``-`` becomes ``\\-`` so options stay
    searchable and are not turned into hyphens.
    """
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line if line[:1] in (".", "'") else line)
                     for line in text.split("\n"))


def bold(text: str) -> str:
    return f"\\fB{esc(text)}\\fR"


def italic(text: str) -> str:
    return f"\\fI{esc(text)}\\fR"


def _th(name: str, section: int, manual: str) -> str:
    date = ""
    if epoch := os.environ.get("SOURCE_DATE_EPOCH"):
        date = time.strftime("%Y-%m-%d", time.gmtime(int(epoch)))
    return f'.TH {name.upper()} {section} "{date}" "irqd {__version__}" "{manual}"'


def _paragraphs(text: str) -> list[str]:
    """Help prose as roff paragraphs: argparse's line breaks are not meaningful."""
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        out.append(".PP")
        out.append(esc(" ".join(para.split())))
    return out


def _verbatim(lines: list[str]) -> list[str]:
    """Preformatted lines (examples): no fill, no adjust, indented."""
    return [".RS", ".nf", *(esc(line) for line in lines), ".fi", ".RE"]


# --- irqd(8) --------------------------------------------------------------

def _visible(action: argparse.Action) -> bool:
    return action.help is not argparse.SUPPRESS


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _help_of(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    # argparse's own expansion, so %(default)s and friends read as in --help
    return parser._get_formatter()._expand_help(action) if action.help else ""


def _invocation(action: argparse.Action) -> str:
    """``\\fB\\-\\-only\\fR \\fILIST\\fR, \\fB\\-y\\fR`` for an option, the metavar for a positional."""
    if not action.option_strings:
        return italic(str(action.metavar or action.dest))
    takes_value = action.nargs != 0
    meta = ""
    if takes_value:
        if action.choices is not None:
            meta = " " + "|".join(bold(str(c)) for c in action.choices)
        else:
            meta = " " + italic(str(action.metavar or action.dest.upper()))
    return ", ".join(bold(s) + meta for s in action.option_strings)


def _actions_section(parser: argparse.ArgumentParser) -> list[str]:
    out = []
    for action in parser._actions:
        if not _visible(action) or isinstance(action, (argparse._SubParsersAction, argparse._HelpAction)):
            continue
        out.append(".TP")
        out.append(_invocation(action))
        text = _help_of(parser, action)
        default = action.default
        if (action.option_strings and action.nargs != 0 and default not in (None, False)
                and default is not argparse.SUPPRESS and "default" not in text):
            text = f"{text} (default: {default})" if text else f"default: {default}"
        out.append(esc(" ".join(text.split())) if text else esc("(no description)"))
    return out


def _usage(parser: argparse.ArgumentParser) -> str:
    usage = parser.format_usage().removeprefix("usage: ").strip()
    return " ".join(usage.split())


def _command_section(prefix: str, name: str, parser: argparse.ArgumentParser, summary: str) -> list[str]:
    full = f"{prefix} {name}"
    out = [f".SS {esc(full)}", ".PP", esc(summary[:1].upper() + summary[1:] + "."),
           ".PP", f"{bold(full)} {esc(_usage(parser).removeprefix(full).strip())}"]
    if parser.description and parser.description != summary:
        out += _paragraphs(parser.description)
    options = _actions_section(parser)
    if options:
        out += [".PP", "Options:", ".RS", *options, ".RE"]
    if parser.epilog:
        out += _paragraphs(parser.epilog[:1].upper() + parser.epilog[1:])
    sub = _subparsers(parser)
    if sub is not None:
        for child in sub._choices_actions:
            out += _command_section(full, child.dest, sub.choices[child.dest], child.help or "")
    return out


def _split_epilog(epilog: str) -> tuple[list[str], str]:
    """The top-level epilog: an ``examples:`` block of preformatted lines, then prose."""
    examples: list[str] = []
    rest: list[str] = []
    lines = epilog.splitlines()
    if lines and lines[0].strip().rstrip(":") == "examples":
        i = 1
        while i < len(lines) and lines[i].startswith(" "):
            examples.append(lines[i].strip())
            i += 1
        rest = lines[i:]
    else:
        rest = lines
    return examples, "\n".join(rest)


def irqd_8(parser: argparse.ArgumentParser) -> str:
    from ..config import DEFAULT_PATH
    desc = parser.description or ""
    sub = _subparsers(parser)
    assert sub is not None, "irqd's parser has sub-commands"
    out = [_th("irqd", 8, "System Administration"),
           ".SH NAME", f"irqd \\- {esc(desc[:1].lower() + desc.split(':')[0].rstrip('.')[1:])}",
           ".SH SYNOPSIS"]
    for child in sub._choices_actions:
        child_parser = sub.choices[child.dest]
        usage = _usage(child_parser).removeprefix("irqd " + child.dest).strip()
        out += [".PP", f"{bold('irqd ' + child.dest)} {esc(usage)}"]
    out += [".PP", f"{bold('irqd')} {bold('--version')}"]
    out += [".SH DESCRIPTION", *_paragraphs(desc)]
    examples, prose = _split_epilog(parser.epilog or "")
    if prose.strip():
        out += _paragraphs(prose)
    out += [".SH COMMANDS"]
    for child in sub._choices_actions:
        out += _command_section("irqd", child.dest, sub.choices[child.dest], child.help or "")
    out += [".SH OPTIONS", *_actions_section(parser), ".TP", f"{bold('-h')}, {bold('--help')}",
            esc("print the help of irqd or of one command (irqd COMMAND --help) and exit")]
    if examples:
        out += [".SH EXAMPLES", *_verbatim(examples)]
    out += [".SH FILES", ".TP", bold(DEFAULT_PATH),
            esc("the configuration, read when it exists; every key is in irqd.toml(5)")]
    out += [".SH SEE ALSO", f"{bold('irqd.toml')}(5), {bold('irqbalance')}(1), {bold('systemd.service')}(5)"]
    return "\n".join(out) + "\n"


# --- irqd.toml(5) ---------------------------------------------------------

EXAMPLE = """\
# never CPU 0; put the originals back when the daemon stops
banned_cpus = "0"

[daemon]
restore_on_exit = true

# mlx5 NICs: fill both SMT threads of a core before the next
[[device]]
driver = "mlx5_core"
policy = "pack"
"""

KEY_LINE = re.compile(r"^\s*(#\s*)?([A-Za-z_][\w-]*)\s*=\s*(.*?)\s*$")
TABLE_LINE = re.compile(r"^\s*(#\s*)?(\[\[?)\s*([\w.-]+)\s*\]\]?\s*(#.*)?$")


def _split_inline(value: str) -> tuple[str, str]:
    """``"x"   # comment`` -> (``"x"``, ``comment``), not splitting inside a string."""
    in_str = None
    for i, ch in enumerate(value):
        if in_str:
            if ch == in_str:
                in_str = None
        elif ch in "\"'":
            in_str = ch
        elif ch == "#":
            return value[:i].strip(), value[i + 1:].strip()
    return value.strip(), ""


def conf_comments(text: str, known: dict[str, set[str]]) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """Explanations of every key in conf/irqd.toml, and of each table.

    A key's explanation is the comment block right above it (up to a blank
    line) plus its inline comment; keys shown commented out (``# key = ...``)
    count too, but only names the model knows, so prose with an ``=`` in it is
    never taken for a key. Returns ({(table, key): text}, {table: text}); the
    top level is table ``""``.
    """
    keys: dict[tuple[str, str], str] = {}
    tables: dict[str, str] = {}
    table = ""
    pending: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            pending = []
            continue
        if m := TABLE_LINE.match(line):
            table = m.group(3)
            if pending and table not in tables:
                tables[table] = " ".join(pending)
            pending = []
            continue
        m = KEY_LINE.match(line)
        if m and m.group(2) in known.get(table, set()):
            _value, inline = _split_inline(m.group(3))
            doc = " ".join(pending + ([inline] if inline else [])).replace(" \n", "\n")
            if doc and not keys.get((table, m.group(2))):
                keys[(table, m.group(2))] = doc
            keys.setdefault((table, m.group(2)), "")
            pending = []
            continue
        if line.startswith("#"):
            body = raw.strip()[1:]
            # "#   spread: ..." (indented further than "# ") is an item of a list: its own line
            pending.append(("\n" if body.startswith("  ") else "") + body.strip())
    return keys, tables


def _model_of(annotation) -> type | None:
    """The pydantic model behind ``Model`` or ``list[Model]``, else None."""
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):   # a pydantic model
        return annotation
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        if isinstance(item, type) and hasattr(item, "model_fields"):
            return item
    return None


def _type_text(annotation) -> str:
    """A TOML reader's name for a Python annotation: ``"spread" | "pack"``, integer, ..."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(f'"{v}"' for v in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in typing.get_args(annotation) if a is not type(None)]
        return " | ".join(_type_text(a) for a in parts)
    if origin is typing.Annotated:
        return _type_text(typing.get_args(annotation)[0])
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(annotation, str(annotation))


def _bounds(field) -> str:
    lo = hi = None
    for meta in field.metadata:
        lo = getattr(meta, "ge", lo)
        hi = getattr(meta, "le", hi)
    # bounds can also sit inside an Optional[Annotated[...]]
    for arg in typing.get_args(field.annotation):
        if typing.get_origin(arg) is typing.Annotated:
            for meta in typing.get_args(arg)[1:]:
                lo = getattr(meta, "ge", lo)
                hi = getattr(meta, "le", hi)
    if lo is not None and hi is not None:
        return f"from {_num(lo)} to {_num(hi)}"
    if lo is not None:
        return f"at least {_num(lo)}"
    if hi is not None:
        return f"at most {_num(hi)}"
    return ""


def _num(v) -> str:
    return str(v) if isinstance(v, int) else f"{v:g}"


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _key_entries(model, table: str, docs: dict[tuple[str, str], str], missing: list[str]) -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        if _model_of(field.annotation) is not None:
            continue
        doc = docs.get((table, name), "")
        if not doc:
            missing.append(f"{table}.{name}" if table else name)
        default = field.get_default()
        head = f"{bold(name)} = {italic(_toml(default))}" if default is not None else bold(name)
        kind = _type_text(field.annotation)
        facts = [kind]
        if bounds := _bounds(field):
            facts.append(bounds)
        facts.append("default " + _toml(default) if default is not None else "unset by default")
        text = esc(f"({'; '.join(facts)}) {doc}".strip())
        out += [".TP", head, text.replace("\n", "\n.br\n")]
    return out


def irqd_toml_5(conf_text: str) -> str:
    from ..config import DEFAULT_PATH, Config, parse_config
    tables: dict[str, typing.Any] = {"": Config}
    arrays: set[str] = set()
    for name, field in Config.model_fields.items():
        if (model := _model_of(field.annotation)) is not None:
            tables[name] = model
            if typing.get_origin(field.annotation) is list:
                arrays.add(name)
    known = {t: set(m.model_fields) for t, m in tables.items()}
    docs, table_docs = conf_comments(conf_text, known)
    missing: list[str] = []

    header = conf_text.split("\n\n", 1)[0]
    intro = " ".join(line.lstrip("#").strip() for line in header.splitlines() if line.startswith("#"))
    out = [_th("irqd.toml", 5, "File Formats"),
           ".SH NAME", "irqd.toml \\- configuration of irqd(8)",
           ".SH SYNOPSIS", bold(DEFAULT_PATH),
           ".SH DESCRIPTION", *_paragraphs(intro),
           *_paragraphs("A TOML file. A missing file means every default below. Keys are checked strictly: "
                        "an unknown key, a value of the wrong type, a value out of range or a malformed CPU "
                        "list is an error, reported with its file and line, and irqd then changes nothing. "
                        "CPU lists are written like the kernel's: \"0-3,8,10-11\"."),
           ".SH TOP-LEVEL KEYS", *_key_entries(Config, "", docs, missing)]
    for table, model in tables.items():
        if not table:
            continue
        heading = f"[[{table}]]" if table in arrays else f"[{table}]"
        out += [f".SH {esc(heading)}"]
        text = table_docs.get(table) or (model.__doc__ or "")
        if not text:
            missing.append(heading)
        out += _paragraphs(text)
        if table in arrays:
            out += _paragraphs(f"May be given any number of times; each {heading} is one table of the keys below.")
        out += _key_entries(model, table, docs, missing)
    if missing:
        raise SystemExit("conf/irqd.toml explains no " + ", ".join(missing)
                         + ": every key of the model needs a comment there")
    parse_config(EXAMPLE, "EXAMPLE")    # the page never shows a config irqd would refuse
    out += [".SH EXAMPLE", *_verbatim(EXAMPLE.splitlines())]
    out += [".SH FILES", ".TP", bold(DEFAULT_PATH),
            esc("the file read by every irqd command unless --config names another"),
            ".SH SEE ALSO", f"{bold('irqd')}(8)"]
    return "\n".join(out) + "\n"


def write_pages(outdir: str | Path, conf: str | Path = DEFAULT_CONF) -> list[Path]:
    from . import build_parser
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    pages = {outdir / "irqd.8": irqd_8(build_parser()),
             outdir / "irqd.toml.5": irqd_toml_5(Path(conf).read_text(encoding="utf-8"))}
    for path, text in pages.items():
        path.write_text(text, encoding="utf-8")
    return list(pages)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m irqd.cli.manpage", description="write irqd.8 and irqd.toml.5")
    ap.add_argument("outdir")
    ap.add_argument("--conf", default=str(DEFAULT_CONF), help="the commented example config (conf/irqd.toml)")
    args = ap.parse_args(argv)
    try:
        for path in write_pages(args.outdir, args.conf):
            print(path)
    except OSError as e:
        print(f"manpage: {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
