"""The memory lifecycle: forget tombstones every writer checks, forget and offboarding jobs in resumable steps,
and the retention sweep. Handlers in :mod:`runtime.handlers` drive them; nothing is imported here."""
