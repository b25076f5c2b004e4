# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes resource quantities (``250m``, ``0.5``, ``128Mi``, ``1e3``), parsed the way the API server
parses them (``k8s.io/apimachinery/pkg/api/resource``), compared exactly (pure).

Grammar: ``<signedNumber><suffix>`` where the suffix is a binary SI one (``Ki Mi Gi Ti Pi Ei``), a
decimal SI one (``n u m "" k M G T P E``) or a decimal exponent (``e3``, ``E-2``). Values are kept as
:class:`fractions.Fraction`, so ``0.5`` equals ``500m`` and ``1Gi`` equals ``1024Mi`` exactly, and a
re-run never resizes a container for spelling alone.
"""

from __future__ import annotations

import re
from fractions import Fraction

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|[numkMGTPE]?)\Z")
MAX_LENGTH = 64


def parse_quantity(value):
    """The exact value of a quantity (``Fraction``); raises ``ValueError`` with the reason.

    Integers and floats (YAML ``cpu: 1``, ``cpu: 0.5``) are read as their decimal text. Booleans,
    empty strings, spaces, unknown suffixes and lowercase ``mi``/``ki`` are refused, as the API server
    refuses them.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError("%r is not a quantity" % (value,))
    text = repr(value) if isinstance(value, float) else str(value)
    if not text or len(text) > MAX_LENGTH:
        raise ValueError("%r is not a quantity" % (value,))
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError("%r is not a quantity such as 250m, 0.5, 128Mi or 1Gi (units: m, k, M, G, Ki, Mi, Gi, ...)" % (value,))
    number, suffix = match.groups()
    amount = Fraction(number if not number.endswith(".") else number[:-1])
    if suffix in _BINARY:
        return amount * _BINARY[suffix]
    if suffix[:1] in ("e", "E"):
        return amount * Fraction(10) ** int(suffix[1:])
    return amount * _DECIMAL[suffix]


def quantity_text(value):
    """The text of a quantity as given (``1`` and ``0.5`` as numbers from YAML become ``"1"``, ``"0.5"``)."""
    return repr(value) if isinstance(value, float) else str(value)


def same_quantity(left, right):
    """Whether two quantities (text or number; ``None`` for absent) have the same value."""
    if left is None or right is None:
        return left is None and right is None
    try:
        return parse_quantity(left) == parse_quantity(right)
    except ValueError:
        return quantity_text(left) == quantity_text(right)
