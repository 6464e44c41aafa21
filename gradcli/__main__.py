"""The gradcli command's entry point (also `python -m gradcli`).

It imports the CLI inside a handler, so Ctrl-C while numpy and typer load ends with
status 130 and no traceback, as it does later on.
"""

import sys


def main() -> None:
    try:
        from .cli import main as run

        run()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
