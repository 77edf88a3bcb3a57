"""Planning: a bundle's config.json, or exec's process.json, -> a plan of plain data.

plan (pure: the spec model -> a dict of ints, strings, lists and bytes, seccomp BPF included) and
process_fields (the runtime-spec 1.2 process and linux fields); bundle and process_file reach a plan
through the plan cache, else the warm planner (planner_client asks `pyrt planner`, planner serves),
else a forked planning child (in_child), so that the CLI never holds attrs or libseccomp.

May import: config, seccomp, network, linux, common (never commands or the executor).
"""
