"""The package's PEP 517 backend: maturin, after the native preload agent
(``libleakproof_preload.so``, crate leakproof-preload) is built and put in the package, so that the
``leakproof`` command of the wheel can inject it (``drive --agent native``).

maturin builds one crate into a wheel; the agent is another cdylib, so it is built here first with
cargo, in the workspace's target directory (``CARGO_TARGET_DIR`` if set), in release.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import maturin
from maturin import (  # noqa: F401 - the hooks maturin provides as they are
    build_sdist,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_wheel,
)

HERE = Path(__file__).resolve().parent.parent
WORKSPACE = HERE.parent / "Cargo.toml"
STAGED = HERE / "leakproof" / "libleakproof_preload.so"


def _stage_preload() -> None:
    """Builds the preload agent and copies it into the package (Linux only: it is a glibc agent)."""
    if not sys.platform.startswith("linux"):
        return
    cmd = [
        "cargo",
        "build",
        "--release",
        "--lib",
        "-p",
        "leakproof-preload",
        "--manifest-path",
        str(WORKSPACE),
        "--message-format=json-render-diagnostics",
    ]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    for line in out.splitlines():
        message = json.loads(line)
        if message.get("reason") != "compiler-artifact":
            continue
        for name in message.get("filenames", []):
            if name.endswith("/libleakproof_preload.so"):
                shutil.copyfile(name, STAGED)
                return
    raise RuntimeError("cargo built no libleakproof_preload.so: %s" % " ".join(cmd))


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _stage_preload()
    return maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _stage_preload()
    return maturin.build_editable(wheel_directory, config_settings, metadata_directory)
