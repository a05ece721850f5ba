"""pip installation of the OccLE libraries (occle_core, occle_ros) and the `occle` CLI.

torch is required but never pinned here: install torch first (see README) so that pip does not
replace the local CPU build with a CUDA wheel. ROS users build the same sources with colcon via
CMakeLists.txt; this file is for pip.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = "0.1.0"

setup(
    name="occle",
    version=VERSION,
    description="Label-efficient 3D semantic occupancy prediction (OccLE) with a ROS 2 node",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["occle_core", "occle_core.*", "occle_ros", "occle_ros.*"]),
    package_data={"occle_core": ["data/resources/*.yaml", "pseudo/resources/*.yaml"]},
    # Model and training configurations, found by name (`--config occle_tiny`) through
    # occle_core.config_files.
    data_files=[
        ("share/occle/config/models", sorted(str(p) for p in Path("config/models").glob("*.yaml"))),
        ("share/occle/config/train", sorted(str(p) for p in Path("config/train").glob("*.yaml"))),
        ("share/occle/config", ["config/occle.yaml", "config/occle_nuscenes.yaml"]),
        # The message definitions: `rosbags` registers them for bag files without ROS.
        ("share/occle_ros/msg", sorted(str(p) for p in Path("msg").glob("*.msg"))),
    ],
    install_requires=[
        "numpy>=1.24",
        "pyyaml>=6.0",
        "pillow>=9.0",
        # Training-curve, confusion-matrix and label-ratio plots with real axes (occle_core.viz).
        "matplotlib>=3.7",
        # The progress display of long jobs (occle_core.cli.progress).
        "tqdm>=4.60",
        # Any 2.x torch satisfies this, so an installed CPU build is kept as is.
        "torch>=2.1",
        # Sparse 3D convolutions. This is the CPU build; GPU users install the spconv-cuXXX
        # matching their CUDA (e.g. spconv-cu120) instead, then install occle with --no-deps:
        # pip cannot tell that spconv-cuXXX provides `spconv` and would write the CPU build over
        # it. CPU-side fixes for spconv: occle_core/model/backbones_3d/spconv_compat.py.
        "spconv>=2.3",
    ],
    extras_require={
        "dev": [
            "pytest>=7.4",
            "hypothesis>=6.80",
            "ruff>=0.6",
            "mypy>=1.10",
            "types-PyYAML",
            "types-tqdm",
            "catkin_pkg>=0.5",
            # Real ROS 2 message definitions and CDR serialisation without a ROS install.
            "rosbags>=0.10",
            # The foundation-model adapters are tested with tiny random models.
            "transformers>=5.0",
            "tensorboard>=2.14",
            # A KITTI-raw -> mcap converter we did not write, replayed by a test.
            "kitti2mcap>=0.1",
        ],
        # rosbag2 tools without a ROS install: `occle to-bag`, `occle bag-eval`.
        "ros": ["rosbags>=0.10"],
        # Convert drives written by `occle kitti-raw` (or real KITTI raw drives) to mcap.
        "kitti-raw": ["kitti2mcap>=0.1"],
        # TensorBoard event files in training runs (metrics.jsonl is always written).
        "train": ["tensorboard>=2.14"],
        # Pseudo labels from real foundation models (local checkpoints): `occle pseudo-label
        # --source transformers`.
        "pseudo": ["transformers>=5.0"],
        # GPU machines only: these import CUDA extensions at import time.
        "cuda": ["mamba-ssm>=2.2", "causal-conv1d>=1.4"],
        # `occle bench scan` compares against mambapy's parallel scan. Needs torch installed
        # first (mambapy depends on torch; see above, so pip keeps the installed build).
        "bench": ["mambapy>=1.2"],
    },
    entry_points={
        "console_scripts": ["occle = occle_core.cli.main:main"],
        # Sub-commands found by `occle` through this group (occle_core.cli.main.COMMAND_GROUP).
        "occle.commands": ["ros = occle_ros.cli:register"],
    },
    classifiers=[
        "License :: OSI Approved :: Apache Software License",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
