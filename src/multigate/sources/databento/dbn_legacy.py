"""Fields of DBN v1/v2 definition records that the v3 layout dropped.

Upgrading to v3 (the vendor's ``Transcoder``) discards ``trading_reference_price``,
``trading_reference_date``, ``md_security_trading_status`` and ``settl_price_type``. To keep
them, :class:`LegacyDefinitionTap` reads the *original* record bytes as they enter the
transcoder and queues those four fields of every definition record, in stream order; the
converter takes exactly as many as the upgraded stream yields definition records (the
upgrade maps each record to one record, in order).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import databento_dbn as dbn
import numpy as np

from .dbn_stream import DbnFormatError

LEGACY_DEFINITION_FIELDS = (
    "trading_reference_price",
    "trading_reference_date",
    "md_security_trading_status",
    "settl_price_type",
)
DEFINITION_RTYPE = int(dbn.RType.INSTRUMENT_DEF)
# Where (and with which types) the dropped fields sit in every definition output: the
# v1 and v2 layouts agree on both.
LEGACY_DEFINITION_LAYOUT = dbn.InstrumentDefMsgV2


def legacy_definition_struct(version: int) -> Any | None:
    """The vendor's definition record class of a pre-v3 DBN version (None for v3+)."""
    return {1: dbn.InstrumentDefMsgV1, 2: dbn.InstrumentDefMsgV2}.get(version)


class LegacyDefinitionTap:
    """Collects the dropped fields of definition records from original (v1/v2) bytes.

    ``feed`` is called with consecutive pieces of the original record stream (after the
    metadata block); ``take(n)`` returns the fields of the next ``n`` definition records.
    """

    def __init__(self, version: int, ts_out: bool) -> None:
        struct = legacy_definition_struct(version)
        if struct is None:
            raise ValueError(f"DBN v{version} definition records need no legacy tap")
        self.version = version
        self._dtype = np.dtype(struct._dtypes)
        self._length = self._dtype.itemsize + (8 if ts_out else 0)
        fields = self._dtype.fields or {}
        self._strided = np.dtype(  # the old layout, one record (+ ts_out) apart
            {
                "names": list(LEGACY_DEFINITION_FIELDS),
                "formats": [fields[f][0] for f in LEGACY_DEFINITION_FIELDS],
                "offsets": [fields[f][1] for f in LEGACY_DEFINITION_FIELDS],
                "itemsize": self._length,
            }
        )
        self.field_dtype = np.dtype([(f, fields[f][0]) for f in LEGACY_DEFINITION_FIELDS])
        self._carry = b""
        self._queue: deque[np.ndarray] = deque()
        self._queued = 0

    def feed(self, data: bytes) -> None:
        buf = self._carry + data
        whole = len(buf) // self._length * self._length
        if whole and self._all_definitions(buf, whole):  # the common case, vectorised
            self._carry = buf[whole:]
            self._push(np.frombuffer(buf, dtype=self._strided, count=whole // self._length))
            return
        pos, size = 0, len(buf)
        found: list[bytes] = []
        while pos < size:
            length = buf[pos] * 4
            if length == 0 or pos + length > size:
                break  # a corrupt header is reported by the record reader itself
            if buf[pos + 1] == DEFINITION_RTYPE:
                if length != self._length:
                    raise DbnFormatError(
                        f"corrupt definition record: length {length}, expected {self._length}"
                    )
                found.append(buf[pos : pos + self._dtype.itemsize])
            pos += length
        self._carry = buf[pos:]
        if found:
            self._push(np.frombuffer(b"".join(found), dtype=self._dtype))

    def _all_definitions(self, buf: bytes, whole: int) -> bool:
        """True if ``buf[:whole]`` is a run of definition records, each of our length."""
        heads = np.frombuffer(buf, dtype=np.uint8, count=whole).reshape(-1, self._length)
        return bool(
            (heads[:, 0] == self._length // 4).all() and (heads[:, 1] == DEFINITION_RTYPE).all()
        )

    def _push(self, recs: np.ndarray) -> None:
        fields = np.empty(len(recs), dtype=self.field_dtype)
        for name in LEGACY_DEFINITION_FIELDS:
            fields[name] = recs[name]
        self._queue.append(fields)
        self._queued += len(fields)

    def take(self, n: int) -> np.ndarray:
        """The legacy fields of the next ``n`` definition records, in stream order."""
        if n > self._queued:
            raise DbnFormatError(
                f"upgraded stream has more definition records than the original ({n} > "
                f"{self._queued} pending)"
            )
        parts: list[np.ndarray] = []
        need = n
        while need:
            head = self._queue[0]
            if len(head) <= need:
                parts.append(self._queue.popleft())
                need -= len(head)
            else:
                parts.append(head[:need])
                self._queue[0] = head[need:]
                need = 0
        self._queued -= n
        return np.concatenate(parts) if parts else np.empty(0, dtype=self.field_dtype)
