"""``--format lerobot``: the sessions as a LeRobot v3.0 dataset (docs/export.md, "LeRobot").

Written with pyarrow and PyAV only (no ``lerobot`` dependency): :mod:`.plan` (episodes, rate,
size), :mod:`.tables` (the parquet files), :mod:`.video` (the MP4 files), :mod:`.stats`,
:mod:`.info` (info.json, tasks) and :mod:`.writer` (the conversion, appending included).
"""
