"""What tests and benchmarks share, imported by module (``from tests.support.machine import write_machine``).

The machine generator, cut by job:
- ``spec``: ``MachineSpec`` and its devices, and the ``*Info`` saying what was written;
- ``kernelfmt``: the kernel's text forms (CPU masks and lists, /proc/interrupts lines);
- ``drivers``: NIC drivers' PCI IDs and the IRQ names they give their vectors;
- ``topology``: CPU numbering, L3 domains, cpumask_local_spread(), managed spread masks;
- ``cmdline``: the isolation words of the kernel command line;
- ``machine``: ``write_machine``, the root-tree writer;
- ``trees``: the large benchmark machines and where benches write them.

And: ``paths`` (fixture and golden directories), ``checks`` (golden files, symlinks, tree
comparison), ``strategies`` (hypothesis machines), ``quality`` (plan quality measures),
``daemonkit`` (driving the daemon on a fixture copy).
"""
