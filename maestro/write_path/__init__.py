"""The write path (DESIGN §2): the one way every mutation is recorded. A service runs inside
:func:`maestro.write_path.services.service` and records each change: an audit row, a ledger
intake row, and events on the tenant's gapless log, broadcast after commit. The names it
records are in :mod:`maestro.write_path.catalogue`. It knows nothing of projects or tasks:
below it are only the ledger and the event log; above it, tenancy and the domain."""
