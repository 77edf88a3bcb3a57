from pyrt.cli import entry

entry()
