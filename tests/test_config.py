"""Config: the shipped file equals the defaults; every error names its line and field."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from irqd.config import Config, ConfigError, config_toml, default_config, load_config, parse_config

SHIPPED = Path(__file__).resolve().parent.parent / "conf" / "irqd.toml"


def test_shipped_config_is_the_defaults():
    assert load_config(str(SHIPPED)) == Config()


def test_shipped_config_names_every_key():
    text = SHIPPED.read_text()
    for key in Config.model_fields:
        assert key in text, f"conf/irqd.toml does not mention {key}"
    for section in ("isolation", "daemon"):
        for key in type(getattr(Config(), section)).model_fields:
            assert key in text, f"conf/irqd.toml does not mention {section}.{key}"


def errors(text):
    with pytest.raises(ConfigError) as e:
        parse_config(text, "t.toml")
    return e.value.problems


def test_unknown_key():
    assert errors("bogus = 1\n") == ["t.toml:1: bogus: unknown key"]


def test_unknown_key_in_section():
    assert errors("[daemon]\n\ninterval = 5\nfoo = 2\n") == ["t.toml:4: daemon.foo: unknown key"]


def test_backwards_cpu_list():
    (p,) = errors('banned_cpus = "7-2"\n')
    assert p.startswith("t.toml:1: banned_cpus:") and "backwards" in p


def test_out_of_range():
    (p,) = errors("[daemon]\ninterval = 0\n")
    assert p.startswith("t.toml:2: daemon.interval:") and "greater than or equal to 1" in p


def test_bad_policy_in_second_device():
    (p,) = errors('[[device]]\nmatch = "eth*"\n[[device]]\nmatch = "x"\npolicy = "fast"\n')
    assert p.startswith("t.toml:5: device.1.policy:")


def test_device_needs_a_matcher():
    (p,) = errors('[[device]]\npolicy = "pack"\n')
    assert p.startswith("t.toml:1: device.0:") and "match, driver, pci" in p


def test_bad_pci_address():
    (p,) = errors('[[device]]\npci = "3b:00.0"\n')
    assert "not a PCI address" in p


def test_irq_rule_needs_action():
    (p,) = errors('[[irq]]\nirq = 5\n')
    assert "policy or cpus" in p


def test_all_errors_at_once_in_line_order():
    probs = errors('bogus = 1\nrps = "maybe"\n[daemon]\nsamples = 0\n')
    assert [p.split(":")[1] for p in probs] == ["1", "2", "4"]


def test_toml_syntax_error_names_line():
    (p,) = errors("rps = \n")
    assert p.startswith("t.toml:1: ")   # file:line: like every other config error (issue 11)


def test_config_show_round_trips():
    cfg = parse_config('banned_cpus = "3"\n[[device]]\ndriver = "ixgbe"\nrps = "on"\n'
                       '[[irq]]\nname = "nvme*"\npolicy = "manual"\n')
    assert parse_config(config_toml(cfg)) == cfg


def test_rules_first_match_wins():
    cfg = parse_config('[[device]]\nmatch = "eth*"\npolicy = "pack"\n[[device]]\ndriver = "ixgbe"\npolicy = "node"\n')
    assert cfg.device_rule("eth0", "ixgbe", None).policy == "pack"
    assert cfg.device_rule("ens1", "ixgbe", None).policy == "node"
    assert cfg.device_rule("ens1", "i40e", None) is None


def irqd(*args):
    return subprocess.run([sys.executable, "-m", "irqd", *args], capture_output=True, text=True)


def test_cli_config_check(tmp_path):
    assert irqd("config", "check", "--config", str(SHIPPED)).returncode == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('policy = "fast"\nbanned_cpus = "x"\n')
    out = irqd("config", "check", "--config", str(bad))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"{bad}:1: policy" in out.stderr and f"{bad}:2: banned_cpus" in out.stderr
    out = irqd("plan", "--root", "fixtures/sysfs/dev-virtio-2cpu", "--config", str(bad))
    assert out.returncode == 2 and f"{bad}:1" in out.stderr
    out = irqd("config", "check", "--config", str(tmp_path / "missing.toml"))
    assert out.returncode == 1 and "no such file" in out.stderr


def test_cli_config_show():
    out = irqd("config", "show", "--config", str(SHIPPED))
    assert out.returncode == 0 and 'policy = "spread"' in out.stdout


def test_defaults_without_pydantic_agree_with_the_model():
    """default_config() is plain dataclasses (irqd plan imports no pydantic); every value the
    planner reads must be the model's default, and config show prints the same either way."""
    import dataclasses

    plain = default_config()
    model = Config()
    for key in Config.model_fields:
        ours, theirs = getattr(plain, key), getattr(model, key)
        if dataclasses.is_dataclass(ours):
            assert dataclasses.asdict(ours) == theirs.model_dump(), key
        elif isinstance(theirs, list):
            assert list(ours) == theirs, key
        else:
            assert ours == theirs, key
    assert {f.name for f in dataclasses.fields(plain)} == set(Config.model_fields)
    assert config_toml(plain) == config_toml(model)
    assert plain.banned() == model.banned() and plain.device_settings() == model.device_settings()


def test_plan_without_a_config_file_imports_no_pydantic():

    from irqd.config import DEFAULT_PATH
    from tests.support.paths import FIXTURES, REPO
    if os.path.exists(DEFAULT_PATH):
        pytest.skip(f"{DEFAULT_PATH} exists here: plan reads it")
    code = ("import sys; from irqd.cli import main; "
            f"main(['plan', '--root', {str(FIXTURES / 'dev-virtio-2cpu')!r}]); "
            "assert not [m for m in sys.modules if m.startswith('pydantic')], 'pydantic imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
