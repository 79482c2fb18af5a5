"""Developer tooling, not the platform: it stays out of the image (Dockerfile, .dockerignore).

The project-local cluster (`localdb`: apt, building TimescaleDB, pg_ctl), the deterministic sample
(`sample`), the one-shot main job on it (`main_job`, `make run`) and the `greenhouse` command with
those added (`cli`). It may import the runtime package `greenhouse_assets`; the runtime never imports
it (tests/test_layout.py).
"""
