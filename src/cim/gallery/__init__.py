"""On-disk galleries: build, load, import."""
