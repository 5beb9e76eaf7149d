"""``irqd run``: the loop, netlink events (the only pyroute2 import), the status socket, logs and metrics."""
