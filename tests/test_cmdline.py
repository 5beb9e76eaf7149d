from irqd.discover.cmdline import parse_cmdline


def test_isolcpus_with_flags_and_nohz():
    boot = parse_cmdline("BOOT_IMAGE=/vmlinuz ro isolcpus=managed_irq,domain,2-31,34-63 "
                         "nohz_full=2-31,34-63 irqaffinity=0-1,32-33 rcu_nocbs=2-31\n")
    assert boot.isolcpus_flags == ("managed_irq", "domain")
    assert boot.isolcpus == set(range(2, 32)) | set(range(34, 64))
    assert boot.nohz_full == boot.isolcpus
    assert boot.irqaffinity == {0, 1, 32, 33}
    assert boot.errors == ()


def test_plain_isolcpus_means_domain():
    boot = parse_cmdline("isolcpus=1,2,10-11")
    assert boot.isolcpus_flags == ("domain",)
    assert boot.isolcpus == {1, 2, 10, 11}


def test_managed_irq_only():
    boot = parse_cmdline("isolcpus=managed_irq,0-4,11-79")
    assert boot.isolcpus_flags == ("managed_irq",)
    assert boot.isolcpus == set(range(5)) | set(range(11, 80))


def test_last_value_wins_and_init_args_ignored():
    boot = parse_cmdline("isolcpus=1 isolcpus=2 -- isolcpus=3")
    assert boot.isolcpus == {2}


def test_bad_list_is_reported_not_raised():
    boot = parse_cmdline("isolcpus=7-2 nohz_full=N-1")
    assert boot.isolcpus is None
    assert len(boot.errors) == 2 and "isolcpus" in boot.errors[0]


def test_n_uses_cpu_count():
    assert parse_cmdline("nohz_full=1-N", nr_cpus=4).nohz_full == {1, 2, 3}
