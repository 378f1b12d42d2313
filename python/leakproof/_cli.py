"""The ``leakproof`` command installed with the package: the same command line as the
cargo-built binary (``drive``, ``watch``, ``analyze``, ``diff``), run by the extension, with the
native preload agent shipped in the package."""

import os
import sys
from pathlib import Path

# The native agent (`drive --agent native`), built into the wheel beside this file.
PRELOAD = Path(__file__).resolve().with_name("libleakproof_preload.so")
# Where the command looks for it first (the harness's PRELOAD_VAR).
PRELOAD_VAR = "LEAKPROOF_PRELOAD"


def main() -> None:
    """Runs the command with this process's arguments and exits with its code."""
    if PRELOAD_VAR not in os.environ and PRELOAD.is_file():
        os.environ[PRELOAD_VAR] = str(PRELOAD)
    from leakproof import _native

    sys.stdout.flush()
    sys.exit(_native.cli(["leakproof", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
