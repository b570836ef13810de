"""``python -m lineage.cli``: the same as ``python -m lineage``."""

from lineage.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
