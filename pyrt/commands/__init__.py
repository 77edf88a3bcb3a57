"""The commands engines call, as runc's CLI does them, and the container state they share.

lifecycle (create, start, run, kill, delete, state, list: owns the rule that a failed command leaves
the host as it was), running (pause, resume, update, ps, events), execute (exec), network_check
(`network check`), state (state.json under --root: atomic writes, locking, derived status).

May import: planning, config, executor, seccomp, network, linux, common.
"""
