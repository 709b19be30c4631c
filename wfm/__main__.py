"""``python -m wfm``: the ``wfm`` command line."""

from wfm.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
