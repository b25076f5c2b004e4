"""Print the closing count line of tests/run.sh from pytest's JUnit XML reports.

Counts every pytest test case of the pytest stages (units, integration, soak, compat), plus one check for each other
stage that ran (sanity, lint, changelog).  A pytest stage that failed without any failing test case
in its report (a crash, a collection error) counts as one failure, so the line never looks greener
than the run was.
"""

from __future__ import annotations

import argparse
import os
import xml.etree.ElementTree as ET


def count(path: str) -> tuple[int, int, int]:
    """Return (passed, failed, skipped) for one JUnit XML report; zeros if it does not exist."""
    if not os.path.exists(path):
        return 0, 0, 0

    root = ET.parse(path).getroot()
    suites = [root] if root.tag == 'testsuite' else root.iter('testsuite')
    tests = failed = skipped = 0

    for suite in suites:
        tests += int(suite.get('tests', 0))
        failed += int(suite.get('failures', 0)) + int(suite.get('errors', 0))
        skipped += int(suite.get('skipped', 0))

    return tests - failed - skipped, failed, skipped


def main() -> None:
    """Add up the reports and print the summary line."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--checks-passed', type=int, default=0)
    parser.add_argument('--checks-failed', type=int, default=0)
    parser.add_argument('--checks-skipped', type=int, default=0)
    parser.add_argument('--junit', action='append', default=[])
    parser.add_argument('--stage-failed', action='append', type=int, default=[])
    args = parser.parse_args()

    passed, failed, skipped = args.checks_passed, args.checks_failed, args.checks_skipped

    for path, stage_failed in zip(args.junit, args.stage_failed):
        p, f, s = count(path)
        passed, skipped = passed + p, skipped + s
        failed += max(f, stage_failed)

    print('(counted: pytest test cases of the pytest stages, one check per other stage)')
    print('%d passed, %d failed, %d skipped' % (passed, failed, skipped))


if __name__ == '__main__':
    main()
