"""The kernel layer: sys (the only module that calls libc), ffi (libc's functions and C types from
_ctypes), paths (resolution and mounts inside a root, on fds), cgroups (create, limits, join, freeze,
stats), cgroupdirs (remove, processes), freezer, devicefilter (cgroup2's eBPF device program), systemd
(the systemd cgroup driver over D-Bus), lsm (AppArmor's profile for the execve), idmap
(id-mapping user namespaces), processes (/proc/PID/stat, reaping), files (atomic writes, JSON files).

May import: common only.
"""
