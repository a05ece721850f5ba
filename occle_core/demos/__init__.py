"""End-to-end jobs run by `occle demo`."""
