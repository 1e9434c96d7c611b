"""Reading and writing the spreadsheets people upload and download: CSV, XLSX, XLS and ODS.

Every uploaded sheet is hostile until read within limits, so the file is parsed in a separate
process (`child.py`, started by `sandbox.py`) that holds memory, CPU time and a wall clock, and
streams rows back; nothing a file can do in that process reaches the web server or the task
worker. The parsers (`csvrows`, `xlsx`, `ods`, `xls`) refuse by declared size before reading and
then read row by row under caps on rows, columns and cell length (`limits.SheetLimits`).

The public side is `reading` (open a file, stream its rows, read its head) and `writing` (every
XLSX the app writes, every cell text unless the app made it a number or a date); `headers`
recognises header rows. This package's modules other than `reading` and `writing` import no
Django: the child runs them with nothing else loaded.
"""
