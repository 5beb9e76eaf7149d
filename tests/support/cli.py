"""Run irqd's command line in-process, as a test sees it: exit status, stdout, stderr."""

import io
from contextlib import redirect_stderr, redirect_stdout

from irqd.cli import main


def irqd(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()
