"""Build hook: copy libbmx_mix.so into the package (from $BMX_LIB, or ../build/ of the
source tree), so that an installed bmx finds its library next to itself. Everything else
is in pyproject.toml."""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py


class build_py_with_lib(build_py):
    def run(self):
        super().run()
        here = os.path.dirname(os.path.abspath(__file__))
        src = os.environ.get("BMX_LIB") or os.path.join(here, "..", "build", "libbmx_mix.so")
        if not os.path.isfile(src):
            raise SystemExit("bmx: %s not found: run 'make' in the bmx source tree first, or "
                             "set BMX_LIB to a built libbmx_mix.so" % src)
        dst = os.path.join(self.build_lib, "bmx", "libbmx_mix.so")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)


setup(cmdclass={"build_py": build_py_with_lib})
