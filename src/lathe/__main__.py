"""`python -m lathe ...` runs the command line, like the `lathe` script."""

from lathe.cli import run

if __name__ == "__main__":
    run()
