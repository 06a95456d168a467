"""Build the gitstore C extension against the system libgit2, libarchive, zlib
and libdeflate (found with pkg-config).

pkg-config runs only when the extension is compiled, so that making an
sdist needs no development files.
"""

import glob
import os
import shlex
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

REQUIRED = {"libgit2": "1.5", "libarchive": "3.4", "zlib": "1.2", "libdeflate": "1.10"}
INSTALL_HINT = (
    "gitstore needs the libgit2, libarchive, zlib and libdeflate development files\n"
    "and pkg-config.\n"
    "On Debian/Ubuntu: apt-get install libgit2-dev libarchive-dev zlib1g-dev libdeflate-dev"
    " pkg-config"
)


def pkg_config(*args):
    try:
        out = subprocess.run(
            ["pkg-config", *args], check=True, capture_output=True, text=True
        ).stdout
    except FileNotFoundError:
        sys.exit("error: pkg-config was not found.\n" + INSTALL_HINT)
    except subprocess.CalledProcessError as exc:
        sys.exit(f"error: pkg-config {' '.join(args)} failed: {exc.stderr.strip()}\n"
                 + INSTALL_HINT)
    return shlex.split(out)


def library_flags():
    for name, version in REQUIRED.items():
        pkg_config("--atleast-version", version, name)
    cflags = pkg_config("--cflags", *REQUIRED)
    libs = pkg_config("--libs", *REQUIRED)
    include_dirs = [f[2:] for f in cflags if f.startswith("-I")]
    library_dirs = [f[2:] for f in libs if f.startswith("-L")]
    libraries = [f[2:] for f in libs if f.startswith("-l")]
    return include_dirs, library_dirs, libraries


class build_ext_with_pkg_config(build_ext):
    def build_extensions(self):
        include_dirs, library_dirs, libraries = library_flags()
        for ext in self.extensions:
            ext.include_dirs += include_dirs
            ext.library_dirs += library_dirs
            ext.libraries += libraries
        super().build_extensions()


extra_compile_args = ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter",
                      "-Wno-missing-field-initializers"]
extra_link_args = []
if os.environ.get("GITSTORE_SANITIZE"):
    # ASan + UBSan build used by `make asan`.
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
           "-fno-sanitize-recover=undefined", "-O1", "-g"]
    extra_compile_args += san
    extra_link_args += san
if os.environ.get("GITSTORE_DEBUG"):
    extra_compile_args += ["-O0", "-g", "-UNDEBUG"]

sources = sorted(glob.glob("csrc/core/*.c")) + sorted(glob.glob("csrc/python/*.c"))

setup(
    cmdclass={"build_ext": build_ext_with_pkg_config},
    ext_modules=[
        Extension(
            "gitstore._core",
            sources=sources,
            include_dirs=["csrc/core"],
            depends=sorted(glob.glob("csrc/*/*.h")),
            define_macros=[("_GNU_SOURCE", "1")],
            extra_compile_args=extra_compile_args,
            extra_link_args=extra_link_args,
        )
    ],
)
