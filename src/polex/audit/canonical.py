"""The JSON an audit entry's hash is computed over."""

from __future__ import annotations

from _json import make_encoder
from json.encoder import encode_basestring
from typing import Any

# The json module's C encoder with ``canonical``'s options, made once: ``json.dumps`` and
# ``JSONEncoder.encode`` make a new one on every call, which cost more than encoding an entry's
# fields (every search encodes three values). Without a check for circular references, which
# values built of an entry's fields cannot hold; the output is the json module's.
_ITERENCODE = make_encoder(None, str, encode_basestring, None, ":", ",", True, False, True)


def canonical(value: Any) -> str:
    """JSON as hashed: sorted keys, no spaces, non-ASCII as is."""
    if isinstance(value, str):
        return encode_basestring(value)
    return "".join(_ITERENCODE(value, 0))
