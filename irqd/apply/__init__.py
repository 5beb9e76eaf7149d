"""The only package that writes to the machine: targets from a plan, the writer, the state of originals."""
