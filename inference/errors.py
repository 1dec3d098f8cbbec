"""The errors of the 3D stages that their callers tell apart (a partition's own bad input, never tried again), in a
module that imports nothing: the processes that only plan and watch runs (convert's parent, Dagster's code server
and daemon) classify them without loading torch or trimesh."""


class MeshError(ValueError):
    """The generated mesh is unusable (empty, degenerate); the message says how."""


class EmptySurface(RuntimeError):
    """A generator produced no surface: a learned model decoded an empty volume (random-looking output, a bad
    seed), or the silhouettes leave no volume."""
