"""Pictures in, pictures out: decoding untrusted files, cutting the object out, upscaling."""
