"""The executor: builds a container from a plan (plain data), with the standard library, ctypes and
python-prctl only.

sync (the parent/init protocol, drawn at its top), parent (fork or clone3, id maps, cgroups, READY),
child (the intermediate's and init's ordered steps), rootfs (mounts, /dev, pivot_root, masked and
read-only paths), hooks (OCI hooks, also run by init), console (pty to a console socket or proxied).

May import: seccomp, network, linux, common (never config or planning: it reads the plan, not the spec).
"""
