"""``python -m twolayer``: the same as the ``twolayer`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
