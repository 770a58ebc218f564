"""Convert tasks on Dask workers that share no filesystem with the run: through the bucket.

When ``data_dir`` is object storage and the scheduler is on another machine, a worker
cannot read the run's working copy. Each task then travels with a :class:`StagingPlan`:

1. The run makes sure each input is in the bucket: a file of the working copy that the
   bucket already holds is read from its own key; any other input (an offline job's local
   files, a raw file fetched by this job) is uploaded once, under
   ``<data_dir>/.multigate-staging/<run>/in/``.
2. The worker downloads the inputs into a scratch folder (under their own file names),
   converts there, and uploads each output under ``.multigate-staging/<run>/out/``.
3. The run downloads each output to the hidden temporary name the engine expects beside
   its final path, deletes the staged object, and publishes as for any worker: the sha256
   the worker measured must match, the sidecar is built in the run.

Workers get the filesystem's options without the run's credentials: each worker machine
uses its own (environment, profile or instance role). The staging area is deleted when the
run's executor closes, and a later run (holding the lock) deletes what a killed one left.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import secrets
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from multigate.engine.tasks import (
    ConvertOutput,
    ConvertTask,
    WorkerResult,
    execute_convert,
    worker_temp,
)
from multigate.errors import DataError, IngestError
from multigate.storage.remote.filesystem import filesystem_options, open_filesystem
from multigate.storage.remote.location import STAGING_AREA, RemoteDataDir, RemoteDataDirError
from multigate.storage.remote.sync_manifest import Manifest, store_of

_WORKER_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION")
"""What the workers learn of the run's environment: where the bucket is, never a secret."""
_CREDENTIAL_OPTIONS = frozenset(
    {
        "key",
        "secret",
        "token",
        "password",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "account_key",
        "sas_token",
        "client_secret",
        "connection_string",
        "credential",
        "credentials",
    }
)
"""Filesystem options (s3fs, botocore, gcsfs, adlfs) that are credentials: a task carries
none of them to the workers, even when ``storage_options`` sets them."""


def without_credentials(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` without any credential, at any depth (``client_kwargs`` included)."""
    return {
        name: without_credentials(value) if isinstance(value, Mapping) else value
        for name, value in options.items()
        if name.lower() not in _CREDENTIAL_OPTIONS
    }


@dataclass(frozen=True)
class StagingPlan:
    """What a worker needs to run one task through the bucket (no secret in it)."""

    protocol: str
    options: Mapping[str, Any]
    inputs: Mapping[str, str]
    """The run's path of each input -> the object holding its bytes."""
    outputs: str
    """The object prefix this task's outputs go under."""
    coordinator_root: str
    """The run's working copy: outputs are named relative to it."""


class BucketStager:
    """The run's side of staging: stages inputs, receives outputs, cleans up."""

    def __init__(self, remote: RemoteDataDir, env: Mapping[str, str]) -> None:
        self._remote = remote
        self._fs: Any = open_filesystem(remote, env)
        public = {name: env[name] for name in _WORKER_ENV if env.get(name)}
        self._options = without_credentials(filesystem_options(remote, public))
        moment = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self._area = remote.key(f"{STAGING_AREA}/{moment}-{secrets.token_hex(4)}")
        self._staged: dict[str, str] = {}
        self._tasks = 0

    def plans(self, tasks: Sequence[ConvertTask]) -> list[StagingPlan]:
        """Upload what of the ``tasks``' inputs the bucket lacks; say where everything is
        (the working copy's manifest is read once for them all)."""
        manifest = Manifest(self._remote, store_of(self._fs))
        return [self._plan(task, manifest) for task in tasks]

    def plan(self, task: ConvertTask) -> StagingPlan:
        return self.plans([task])[0]

    def _plan(self, task: ConvertTask, manifest: Manifest) -> StagingPlan:
        self._tasks += 1
        return StagingPlan(
            protocol=self._remote.protocol,
            options=self._options,
            inputs={str(path): self._input_key(path, manifest) for path in task.inputs},
            outputs=f"{self._area}/out/{self._tasks}",
            coordinator_root=str(self._remote.cache_dir),
        )

    def _input_key(self, path: Path, manifest: Manifest) -> str:
        text = str(path)
        if text in self._staged:
            return self._staged[text]
        key = self._own_key(path, manifest)
        if key is None:
            name = hashlib.sha256(text.encode()).hexdigest()[:16]
            key = f"{self._area}/in/{name}/{path.name}"
            self._fs.put_file(text, key)
        self._staged[text] = key
        return key

    def _own_key(self, path: Path, manifest: Manifest) -> str | None:
        """The input's own object, when the bucket holds exactly the working copy's file."""
        try:
            relative = path.relative_to(self._remote.cache_dir).as_posix()
        except ValueError:
            return None
        if manifest.unchanged(relative, path):
            return self._remote.key(relative)
        return None

    def receive(self, result: WorkerResult) -> WorkerResult:
        """Bring each staged output to its temporary name beside its final path."""
        files = []
        for file in result.files:
            if file.staged is None:
                files.append(file)
                continue
            file.temp.parent.mkdir(parents=True, exist_ok=True)
            self._fs.get_file(file.staged, str(file.temp))
            got = file.temp.stat().st_size
            if got != file.bytes:
                raise RemoteDataDirError(
                    f"{file.final.name}: the staged output arrived with {got} bytes, the "
                    f"worker wrote {file.bytes}"
                )
            with contextlib.suppress(FileNotFoundError):
                self._fs.rm_file(file.staged)
            files.append(dataclasses.replace(file, staged=None, stamp=None))  # hashed again
        return dataclasses.replace(result, files=tuple(files))

    def close(self) -> None:
        """Delete this run's staging area."""
        if self._tasks or self._staged:
            with contextlib.suppress(FileNotFoundError):
                self._fs.rm(self._area, recursive=True)


def execute_staged(task: ConvertTask, temp: Path, plan: StagingPlan) -> WorkerResult:
    """Run in a worker: fetch the inputs, convert in a scratch folder, upload the outputs."""
    import fsspec

    fs = fsspec.filesystem(plan.protocol, **plan.options)
    root = Path(plan.coordinator_root)
    with tempfile.TemporaryDirectory(prefix="multigate-task-") as scratch:
        here = Path(scratch)
        names: dict[str, str] = {}
        inputs = []
        for index, path in enumerate(task.inputs):
            local = here / "in" / str(index) / path.name
            local.parent.mkdir(parents=True)
            fs.get_file(plan.inputs[str(path)], str(local))
            inputs.append(local)
            names[str(local)] = str(path)
        out = here / "out"
        moved = dataclasses.replace(
            task,
            inputs=tuple(inputs),
            output=_moved(root, out, task.output),
            output_for=(
                functools.partial(_output_moved, task.output_for, str(root), str(out))
                if task.output_for is not None
                else None
            ),
        )
        try:
            result = execute_convert(moved, _moved(root, out, temp))
        except IngestError as exc:
            raise _renamed_error(exc, names) from None
        files = []
        for number, file in enumerate(result.files):
            relative = file.final.relative_to(out)
            key = f"{plan.outputs}/{number}/{relative.as_posix()}"
            fs.put_file(str(file.temp), key)
            final = root / relative
            files.append(
                dataclasses.replace(
                    file,
                    final=final,
                    temp=temp if task.split is None else worker_temp(final, temp),
                    staged=key,
                    output=_renamed_output(file.output, names),
                )
            )
        return WorkerResult(
            tuple(files),
            tuple(_renamed(text, names) for text in result.warnings),
            tuple(_renamed(text, names) for text in result.notes),
            inputs=result.inputs,  # hashed from the scratch copies: the same bytes
        )


def _moved(root: Path, out: Path, path: Path) -> Path:
    return out / path.relative_to(root)


def _output_moved(output_for: Callable[[str], Path], root: str, out: str, key: str) -> Path:
    return _moved(Path(root), Path(out), output_for(key))


def _renamed(text: str, names: Mapping[str, str]) -> str:
    """``text`` with the scratch folder's input paths said as the run's."""
    for local, original in names.items():
        text = text.replace(local, original)
    return text


def _renamed_output(output: ConvertOutput, names: Mapping[str, str]) -> ConvertOutput:
    return dataclasses.replace(
        output,
        warnings=tuple(_renamed(text, names) for text in output.warnings),
        notes=tuple(_renamed(text, names) for text in output.notes),
    )


def _renamed_error(exc: IngestError, names: Mapping[str, str]) -> IngestError:
    message = _renamed(str(exc), names)
    try:
        return type(exc)(message)
    except TypeError:
        return DataError(message)
