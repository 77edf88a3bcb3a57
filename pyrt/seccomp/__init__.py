"""Seccomp, self-contained: Docker-format profiles -> OCI sections -> BPF, and the tools around them.

compiler (linux.seccomp -> BPF with libseccomp, runc's ENOSYS stub, the BPF cache), bpf (cBPF encoder
and interpreter), profiles and docker_data (Docker's default profile), tools and command (`pyrt
seccomp` render, check, explain, diff), record and recorder (`run --seccomp-record`), binding
(pyseccomp imported without ctypes.util).

May import: linux, common (never network).
"""
