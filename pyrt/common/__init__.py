"""What every layer uses, and which imports nothing above it: errors, constants (the kernel's, as plain
data), signals, caps, version, log (runc's message format), fastjson and jsonread (JSON without `import
json`; typed access naming JSON paths), posixos and pathnames (os and os.path without importing os),
cache (the content-addressed cache of plans and BPF), lsm_state (whether AppArmor and SELinux are on),
faults (fault injection for the tests), fastimport (the launcher's loader of pyrt's own bytecode).

May import: nothing of pyrt outside common.
"""
