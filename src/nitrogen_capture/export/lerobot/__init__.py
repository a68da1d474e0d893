"""``--format lerobot``: the sessions as a LeRobot v3.0 dataset (docs/export.md, "LeRobot").

Written with pyarrow and PyAV only (no ``lerobot`` dependency): :mod:`.plan` (episodes, rate,
size), :mod:`.tables` (the parquet files), :mod:`.video` (the MP4 files), :mod:`.stats`,
:mod:`.info` (info.json, tasks), :mod:`.state` (``observation.state``, ``--state``),
:mod:`.layout` (what a dataset of ours holds, its mark), :mod:`.existing` (every file of a
dataset checked before an append) and :mod:`.writer` (the conversion, built beside ``--out`` and
swapped in).
"""
