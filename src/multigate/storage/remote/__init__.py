"""Data folders on object storage (``data_dir: s3://bucket/prefix``).

A run works on a local working copy of the data folder (every guarantee of a local folder
holds there: atomic publishes, sidecars first, the ledger, snapshots) and synchronizes it
with the bucket: it takes a lock object in the bucket, brings the copy up to date, runs, and
uploads what changed (whole objects only: an object under its final name is always
complete; a data file goes up before its sidecar). See ``session.py``.
"""
