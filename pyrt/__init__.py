"""pyrt: an OCI container runtime with runc's command line.

The packages are layers, top to bottom; a module imports from its own layer and the ones below it,
never above (pyproject.toml's import contracts, checked by `lint-imports` in scripts/test):

    cli.py      the command line: runc's commands and flags -> commands
    commands/   what engines call: create, start, run, kill, delete, state, exec, pause, update, ...
    planning/   config.json or process.json -> a plan of plain data, through the plan cache and planner
    config/     the spec model (attrs), the `spec` template, `features`, mount options
    executor/   a plan -> a container: parent, init's ordered steps, rootfs, hooks, terminals
    seccomp/    profiles, BPF, check/explain/diff, the recorder        (seccomp and network are
    network/    linux.netDevices and CNI networks                       independent of each other)
    linux/      the kernel: the syscall layer (sys.py, the only module calling libc), cgroups, paths
    common/     what every layer uses: errors, constants, signals, caps, version, logging, JSON, os

config/ and executor/ never import each other: the plan is all that passes between them; planning/
and config/ import neither linux/ nor executor/ (planning stays pure, as its result is cached).
"""
