"""The warehouse export: an organization's contacts, responses, surveys and events as
Parquet or CSV files, whole or incremental (see docs/export.md).

- :mod:`tables`: each table's columns and types, the rows changed since a time;
- :mod:`pages`: reading a table a page at a time, by id;
- :mod:`formats`: CSV and Parquet, encoded a piece at a time;
- :mod:`state`: the incremental export's state file and its high-water marks;
- :mod:`runs`: one export into a directory.
"""
