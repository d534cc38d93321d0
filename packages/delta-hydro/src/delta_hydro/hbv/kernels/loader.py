"""Build the compiled HBV kernel once, cache it, load it; warn once if that fails.

The C++ sources next to this module (``hbv_step.h``: one step and its adjoint;
``hbv_cpu.cpp``: the threaded CPU loops and the torch operator registration) are
compiled on first use with :func:`torch.utils.cpp_extension.load` (g++ and ninja) into

    ``$DELTA_CACHE_DIR/torch_extensions/<name>`` (default ``~/.cache/deltamod/...``)

where ``<name>`` hashes the sources, the compiler flags, the Python and torch versions
and the CPU's instruction-set extensions, so that a changed source, a new torch or a
cache directory shared with another kind of machine gets its own build instead of a
stale or illegal one. Later processes only load the shared library (about 0.1 s).
``python -c "from delta_hydro.hbv.kernels import build; build()"`` compiles ahead of
time (the set-up script's job).

The library registers the operators ``torch.ops.delta_hbv.forward`` and
``torch.ops.delta_hbv.backward`` (no Python bindings, so the build skips pybind11 and
takes seconds, not a minute).

If anything fails (no compiler, no ninja, a build error), :meth:`ExtensionLoader.load`
returns ``False`` and issues one :class:`HBVKernelWarning` per process, naming the
cause; callers then use the reference backend.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

SOURCE_DIR = Path(__file__).resolve().parent
SOURCES: tuple[str, ...] = ("hbv_cpu.cpp", "route_cpu.cpp")
"""Translation units compiled into the library."""
HEADERS: tuple[str, ...] = ("hbv_step.h", "hbv_math.h", "hbv_simd.h")
"""Headers they include (part of the build key, so that editing one rebuilds)."""
EXTENSION_NAME = "delta_hbv_cpu"
OP_NAMESPACE = "delta_hbv"

CFLAGS: tuple[str, ...] = (
    "-O3",
    "-std=c++20",
    "-march=native",
    # Keep a * b + c as two roundings, as the reference's separate torch operations do.
    "-ffp-contract=off",
    # No errno/FP-trap side effects: lets the compiler turn the step's branches into
    # vector selects. Values are unchanged (IEEE arithmetic, no -ffast-math).
    "-fno-math-errno",
    "-fno-trapping-math",
    # GCC's partial-redundancy elimination turns some selects into selects between
    # booleans that its vectorizer then rejects, leaving the backward loop scalar.
    "-fno-tree-pre",
)
"""Compiler flags. ``-march=native`` is safe because the build directory's name
includes the CPU's instruction-set flags (:func:`build_directory`)."""


class HBVKernelWarning(RuntimeWarning):
    """The compiled HBV kernel is unavailable; the reference loop is used instead."""


def cache_dir() -> Path:
    """deltamod's cache directory: ``$DELTA_CACHE_DIR``, else ``$XDG_CACHE_HOME/deltamod``
    or ``~/.cache/deltamod``."""
    if os.environ.get("DELTA_CACHE_DIR"):
        return Path(os.environ["DELTA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "deltamod"


def _cpu_signature() -> str:
    """The CPU's instruction-set flags (what ``-march=native`` depends on)."""
    try:
        with Path("/proc/cpuinfo").open() as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build_key() -> str:
    """Hash of everything the compiled library depends on (16 hex digits)."""
    digest = hashlib.sha256()
    for name in (*SOURCES, *HEADERS):
        digest.update(name.encode())
        digest.update((SOURCE_DIR / name).read_bytes())
    for part in (*CFLAGS, sys.version, torch.__version__, str(torch._C._GLIBCXX_USE_CXX11_ABI), _cpu_signature()):
        digest.update(part.encode())
    return digest.hexdigest()[:16]


def build_directory() -> Path:
    """Where this machine's build of the current sources lives."""
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    return cache_dir() / "torch_extensions" / f"{EXTENSION_NAME}-{py}-torch{torch.__version__}-{build_key()}"


@contextmanager
def _ninja_on_path() -> Iterator[None]:
    """Make the ``ninja`` of this environment findable by torch's builder.

    ``pip install ninja`` puts the binary next to the interpreter (``.venv/bin``),
    which is not on ``PATH`` when the venv's python is run without activating it.
    """
    if shutil.which("ninja") is not None:
        yield
        return
    candidates = [Path(sys.executable).parent]
    try:
        import ninja  # type: ignore[import-not-found, unused-ignore]

        candidates.insert(0, Path(ninja.BIN_DIR))
    except (ImportError, AttributeError):
        pass
    found = next((c for c in candidates if (c / "ninja").is_file()), None)
    if found is None:
        yield
        return
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{found}{os.pathsep}{old}" if old else str(found)
    try:
        yield
    finally:
        os.environ["PATH"] = old


def compile_and_load(verbose: bool = False) -> None:
    """Compile (if not cached) and load the library into this process.

    Raises whatever the build or the load raises.
    """
    from torch.utils.cpp_extension import load

    directory = build_directory()
    directory.mkdir(parents=True, exist_ok=True)
    with _ninja_on_path():
        load(
            name=EXTENSION_NAME,
            sources=[str(SOURCE_DIR / name) for name in SOURCES],
            extra_cflags=list(CFLAGS),
            build_directory=str(directory),
            is_python_module=False,
            verbose=verbose,
        )
    # The library registers the operators on load; make sure it did.
    torch.ops.delta_hbv.forward  # noqa: B018


class ExtensionLoader:
    """Loads the extension at most once per process and remembers the outcome.

    Parameters
    ----------
    builder
        Callable that compiles and loads the library, raising on failure (default
        :func:`compile_and_load`; tests pass a failing one).
    """

    def __init__(self, builder: Callable[[], None] = compile_and_load) -> None:
        self._builder = builder
        self._lock = threading.Lock()
        self._tried = False
        self.error: BaseException | None = None
        """Why loading failed (``None`` if it succeeded or was not tried)."""

    def load(self) -> bool:
        """Build/load on the first call; ``True`` if the operators are available.

        On failure, warns once (:class:`HBVKernelWarning`) and returns ``False`` now and
        on every later call.
        """
        with self._lock:
            if not self._tried:
                self._tried = True
                try:
                    self._builder()
                except Exception as exc:  # any build or load failure means: fall back
                    self.error = exc
                    first = str(exc).strip().splitlines()
                    detail = f"{type(exc).__name__}: {first[0] if first else ''}"
                    warnings.warn(
                        "HBV: the compiled kernel (backend 'cpp') could not be built or loaded "
                        f"({detail}); using the 'reference' backend instead: same results, slower. "
                        "Needs g++ and ninja (pip install ninja); build directory "
                        f"{build_directory()}. Run `python -c \"from delta_hydro.hbv.kernels import build; "
                        "build()\"` to see the full compiler output.",
                        HBVKernelWarning,
                        stacklevel=4,
                    )
            return self.error is None

    @property
    def loaded(self) -> bool:
        """Whether the library was loaded in this process (without trying to load it)."""
        return self._tried and self.error is None


LOADER = ExtensionLoader()
"""The process-wide loader used by the ``cpp`` backend."""


def is_available() -> bool:
    """Whether the compiled kernel loads in this process (builds it on first call)."""
    return LOADER.load()


def build(verbose: bool = True) -> Path:
    """Compile the kernel now (ahead of first use) and return its build directory.

    Unlike :func:`is_available` this raises on failure, with the compiler's output, so
    that a set-up script stops with the reason.
    """
    compile_and_load(verbose=verbose)
    return build_directory()
