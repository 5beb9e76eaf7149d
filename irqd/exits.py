"""Every exit status irqd returns, in one table, so scripts and the docs agree.

| status | apply, restore, run | audit | status |
| --- | --- | --- | --- |
| 0 | done | clean | answered |
| 1 | some writes failed (listed) | findings | - |
| 2 | bad config, state or input | bad input | bad answer |
| 3 | refused: irqbalance runs, another irqd writes | - | no daemon |
| 4 | permission denied | - | permission denied |
"""

OK = 0
ERRORS = 1          # apply/restore: some writes failed; config check: problems found
FINDINGS = 1        # audit: the placement has findings
USAGE = 2           # bad config, state, input or arguments
REFUSED = 3         # irqbalance runs, the lock is held, no daemon answers
PERMISSION = 4      # not root / no CAP_NET_ADMIN
INTERRUPTED = 130   # Ctrl-C, as the shell reports SIGINT
