"""``python -m scalelaw`` is the ``scalelaw`` command (how it runs uninstalled on the GPU machine)."""

from scalelaw.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
