"""Running batteries: the call cache and the resumable runner."""
