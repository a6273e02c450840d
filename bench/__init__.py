"""Benchmarks (`python -m bench <scenario>`) and the helpers the reliability drills share. See README.md."""
