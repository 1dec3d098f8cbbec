"""Pure image and mesh work: no Dagster, no database. Everything here takes and returns plain values."""
