"""Put tests/harness/get_pip_standin.py where ``ansible-test --venv`` looks for its pip bootstrap.

Run with the interpreter that has ansible-test installed.  The file name depends on the pip
version that this ansible-test release pins, so it is read from ansible-test itself.
Prints the path it wrote.

The cache path is the one ansible-test's own error message names when the download fails ("The
bootstrap script can be manually downloaded and saved to: ..."); the pip version in it is not
published anywhere public, so this is the one place the tests read ansible-test's internals (with a
fallback that reads the pin from its source), in one small file, for every ansible-core tested.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import sys
import types


def pinned_pip_version() -> str:
    """Return the pip version ansible-test bootstraps into its virtual environments."""
    python_version = '%d.%d' % sys.version_info[:2]

    try:
        from ansible_test._internal.python_requirements import get_venv_packages  # pylint: disable=import-outside-toplevel

        return get_venv_packages(types.SimpleNamespace(version=python_version))['pip']
    except Exception:  # pylint: disable=broad-exception-caught  # internal API: fall back to reading the source
        import ansible_test  # pylint: disable=import-outside-toplevel

        source = pathlib.Path(ansible_test.__file__).parent.joinpath('_internal', 'python_requirements.py').read_text(encoding='utf-8')
        match = re.search(r"default_packages\s*=\s*dict\(\s*pip='([^']+)'", source)

        if not match:
            raise SystemExit('install_get_pip: cannot find the pip version that ansible-test pins') from None

        return match.group(1)


def main() -> None:
    """Copy the stand-in into ansible-test's cache under the name it expects."""
    version = pinned_pip_version()
    cache = pathlib.Path(os.path.expanduser('~/.ansible/test/cache'))
    target = cache / ('get_pip_%s.py' % version.replace('.', '_'))
    source = pathlib.Path(__file__).with_name('get_pip_standin.py')

    cache.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    print(target)


if __name__ == '__main__':
    main()
