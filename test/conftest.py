"""Shared fixtures: where the real sensor samples live.

The real KITTI / SemanticKITTI / nuScenes / Occ3D files are kept outside the repository (see
``../shared/data/real/README.md``) and are only ever read in place; tests write derived files to
``tmp_path``. Set ``OCCLE_REAL_DATA`` to use another copy of that folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# The sources under test come first, before a sourced colcon workspace's copy of them (whose
# symlinks miss any module added since its build); occle_ros's path still spans the workspace's
# folder, where the generated occle_ros.msg lives.
sys.path.insert(0, str(REPO_ROOT))

# Every process these tests start that may start a ROS 2 node finds its peers on loopback only
# (FastDDS multicasts on the network interface otherwise, and these machines allow loopback
# traffic only), in a domain of this run's own unless one is set.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))


def real_data_dir() -> Path:
    """The folder of real sensor samples: $OCCLE_REAL_DATA or the repository's sibling."""
    override = os.environ.get("OCCLE_REAL_DATA")
    if override:
        return Path(override)
    return REPO_ROOT / ".." / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Path of the real sensor samples; skips the test when they are not available."""
    path = real_data_dir()
    if not path.is_dir():
        pytest.skip(f"real sensor samples not found at {path} (set OCCLE_REAL_DATA)")
    return path
