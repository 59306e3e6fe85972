"""Hooks of the API fuzz test: `fuzz.rs` has schemathesis load this file (through
`SCHEMATHESIS_HOOKS`) and passes the names it needs from the server in the environment.

Test data generators only: what a request is allowed to be stays in the OpenAPI document,
these say how to draw what the document names but no JSON Schema keyword computes.
"""

import os

import schemathesis
from hypothesis import strategies as st

# The `format` of a barcode (`routes::bounds::BARCODE_FORMAT`).
BARCODE_FORMAT = os.environ["LOGIFLOW_BARCODE_FORMAT"]

# The lengths of the GS1 GTINs (EAN-8, UPC-A, EAN-13, GTIN-14): a barcode of this many
# digits must end with its check digit (`core::Barcode::parse`).
GTIN_LENGTHS = (8, 12, 13, 14)


def gtin_check_digit(body: str) -> str:
    """The GS1 check digit of the digits `body`: weights 3, 1, 3, 1, ... from the digit
    next to the check digit, leftwards."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def with_check_digit(code: str) -> str:
    """`code` with its last digit made its check digit when it is GTIN-shaped; any other
    code as it is."""
    if len(code) in GTIN_LENGTHS and code.isascii() and code.isdigit():
        return code[:-1] + gtin_check_digit(code[:-1])
    return code


gtins = st.sampled_from(GTIN_LENGTHS).flatmap(
    lambda n: st.text("0123456789", min_size=n - 1, max_size=n - 1)
).map(lambda body: body + gtin_check_digit(body))
# Every other code the pattern allows: printable ASCII without spaces (the document's
# pattern and length filter what is drawn here), GTIN-shaped ones given their check digit.
codes = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1).map(
    with_check_digit
)
# The server trims a barcode before it checks it.
spaces = st.text(" \t\u00a0\u3000", max_size=2)
schemathesis.openapi.format(
    BARCODE_FORMAT,
    st.tuples(spaces, st.one_of(gtins, codes), spaces).map("".join),
)

