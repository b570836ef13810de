"""One module per page family; each has ``routes(state)`` giving its Starlette routes.

    sets.py        /sets                         every set, its size, best value, activity
    table.py       /sets/N                       a set's experiments (the landing view)
    compare.py     /sets/N/compare?e=1&e=2       2–10 experiments side by side
    experiment.py  /sets/N/M, …/notebook, …/live.json, …/artifacts/I
    lineage.py     /lineage                      data fingerprints and versions → experiments
    actions.py     POST …/tags, …/alias, /aliases/remove   (CSRF-checked; the only writes)
"""
