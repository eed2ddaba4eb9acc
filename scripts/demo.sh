#!/bin/bash
# The demo of the main job: a lab PC is saved, hit by a "virus", and restored from its own
# OSCAR partition; every file is checked against the original.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 scripts/demo.py "$@"
