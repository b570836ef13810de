"""``python -m lineage``: the lineage command line (see docs/cli.md)."""

from lineage.cli import main

if __name__ == "__main__":
    main()
