"""nox sessions: lint, imports, tests, core_alone, bench.

Every session installs with ``-c constraints.txt`` so torch stays the pinned CPU build.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "imports", "tests", "core_alone"]
nox.options.reuse_existing_virtualenvs = True

PACKAGES = [
    "-e", "packages/delta-core",
    "-e", "packages/delta-nn",
    "-e", "packages/delta-hydro",
    "-e", "packages/delta-photosynth",
]
PYTHON = "3.11"


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the whole repository."""
    session.install("-c", "constraints.txt", "ruff")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON)
def imports(session: nox.Session) -> None:
    """import-linter contracts: core free of domain imports, CLI/config free of torch."""
    session.install("-c", "constraints.txt", "import-linter", *PACKAGES)
    session.run("lint-imports")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The full test suite with every package installed."""
    session.install("-c", "constraints.txt", "-r", "requirements-dev.txt", *PACKAGES)
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session(python=PYTHON)
def core_alone(session: nox.Session) -> None:
    """delta-core installed alone (no domain package), autoload off: its tests pass."""
    session.install("-c", "constraints.txt", "pytest", "hypothesis", "setuptools", "HydroErr",
                    "-e", "packages/delta-core")
    for dist in ("deltamod-nn", "deltamod-hydro", "deltamod-photosynth"):
        session.run("python", "-c", f"import importlib.metadata as m, sys; "
                    f"sys.exit('{dist} must not be installed') if any(d.name == '{dist}' "
                    f"for d in m.distributions()) else None")
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/core",
                env={"DELTA_DISABLE_PLUGIN_AUTOLOAD": "1"})


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Every benchmark in benchmarks/ (run by hand; never part of CI)."""
    import pathlib

    session.install("-c", "constraints.txt", *PACKAGES)
    for script in sorted(pathlib.Path("benchmarks").glob("*.py")):
        session.run("python", str(script), *session.posargs)
