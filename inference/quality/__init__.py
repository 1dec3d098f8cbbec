"""The quality harness: reference renders of real meshes, reconstructions of them, and their scores."""
