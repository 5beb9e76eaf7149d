"""irqd: places network and device interrupts, RPS and XPS maps."""

__version__ = "0.1.0"
