"""`python -m lathe.cli ...` runs the command line."""

from lathe.cli import run

if __name__ == "__main__":
    run()
