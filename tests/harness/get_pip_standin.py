"""Offline stand-in for the pip bootstrap script that ``ansible-test --venv`` downloads.

ansible-test creates its virtual environments without pip and then runs a cached copy of
``get-pip.py`` (``~/.ansible/test/cache/get_pip_<version>.py``) with the packages it wants,
e.g. ``--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``.  The host serving that
script is not reachable from our machines, so tests/prepare.sh copies this file into the cache instead
(for each venv whose ansible-test runs sanity: each ansible-test release pins its own pip).

It bootstraps pip from the interpreter's bundled wheel (``ensurepip``) and then lets that pip
install the requested packages from the configured package index.  ``ensurepip`` runs in a
subprocess on purpose: run in-process it sets ``PIP_CONFIG_FILE=/dev/null``, which would hide the
machine's pip configuration (index, certificates) from the install that follows.
"""

from __future__ import annotations

import subprocess
import sys

# get-pip.py options that ``pip install`` does not understand.
_GET_PIP_ONLY_OPTIONS = frozenset(('--no-setuptools', '--no-wheel'))


def main() -> int:
    """Bootstrap pip with ensurepip, then install the requested packages with it."""
    args = [arg for arg in sys.argv[1:] if arg not in _GET_PIP_ONLY_OPTIONS]

    bootstrap = subprocess.run([sys.executable, '-m', 'ensurepip'], check=False)

    if bootstrap.returncode:
        return bootstrap.returncode

    if not [arg for arg in args if not arg.startswith('-')]:
        return 0  # nothing to install beyond the bundled pip

    return subprocess.run([sys.executable, '-m', 'pip', 'install'] + args, check=False).returncode


if __name__ == '__main__':
    sys.exit(main())
