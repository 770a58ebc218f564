"""The client's ``timeseries`` endpoint, writing each received piece to the file at once.

``databento.Historical().timeseries.get_range(path=...)`` reads its answer in 4 KiB pieces
(each read waits until 4 KiB are in) and writes them through an 8 KiB file buffer, so the
file it streams into shows nothing of a slow answer: at 1 byte/s it stays empty for over an
hour while bytes arrive, and a rate watch on its size counts 0 bytes. :class:`PieceTimeseries`
is the client's own endpoint class (same request, validation, headers, auth, timeouts, error
statuses and warnings); only the read loop differs: it takes whatever the connection has
(``read1``) and writes it unbuffered, so the file's size is the number of bytes received.
A broken stream is the client's ``BentoError`` with its cause kept (the client's loop raises
``from None``, hiding a full disk); a stall (:class:`StalledTransfer`) is raised as itself.
"""

from __future__ import annotations

from os import PathLike

import requests
from databento.common.dbnstore import DBNStore
from databento.common.error import BentoError
from databento.common.http import check_backend_warnings, check_http_error
from databento.historical.api.timeseries import TimeseriesHttpAPI
from requests.auth import HTTPBasicAuth

from multigate.transfer_watch import READ_SIZE, StalledTransfer


class PieceTimeseries(TimeseriesHttpAPI):
    """``TimeseriesHttpAPI`` whose ``get_range(path=...)`` file grows as bytes arrive."""

    def _stream(
        self,
        url: str,
        data: dict[str, object | None],
        basic_auth: bool,
        path: PathLike[str] | str | None = None,
    ) -> DBNStore:
        if path is None:  # to memory: nothing watches it, the client's loop will do
            return super()._stream(url, data, basic_auth, path)
        self._check_api_key()
        with requests.post(
            url=url,
            data=data,
            headers=self._headers,
            auth=HTTPBasicAuth(username=self._key, password="") if basic_auth else None,
            timeout=(self.TIMEOUT, self.TIMEOUT),
            stream=True,
        ) as response:
            check_backend_warnings(response)
            check_http_error(response)
            with open(path, "xb", buffering=0) as out:
                try:
                    while piece := response.raw.read1(READ_SIZE, decode_content=True):
                        out.write(piece)
                except StalledTransfer:
                    raise
                except Exception as exc:  # as the client words it, the cause kept
                    raise BentoError(f"Error streaming response: {exc}") from exc
        return DBNStore.from_file(path)
