"""Configuration: config.json as the runtime spec defines it.

spec (frozen attrs models, every error naming its JSON path), mountopts (runc's table of mount
options), template (`pyrt spec`: the config runc spec writes), features (`pyrt features`).
No syscalls here.

May import: seccomp, network, linux, common (never the executor: a plan is all that passes between
the two).
"""
