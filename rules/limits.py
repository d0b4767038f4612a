"""The limits a policy pack's files must keep, one set for every way a pack arrives.

``sqm policy lint`` and ``sqm serve --policy-dir`` read a folder; ``ValidatePolicy`` and
``ActivatePolicy`` receive the files as data. All of them refuse the same packs: the loader
applies the per-file size to a folder's files (``sqm.rules.loader``), and the request check
(``sqm.rules.tooling.pack_files``) applies all of these to files given as data.
"""

from __future__ import annotations

MAX_FILES = 100
MAX_FILE_BYTES = 1024 * 1024
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024
