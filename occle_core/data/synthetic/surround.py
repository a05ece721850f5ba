"""A nuScenes-like surround rig and scenes written in the Occ3D-nuScenes layout
(`occle synth --layout occ3d`).

The same procedural streets as the SemanticKITTI-layout writer, seen by a 32-beam LiDAR and six
cameras placed like nuScenes' (front, front-left/right at +-55 degrees, back-left/right at
+-110 degrees, a wide back camera), written as the official files::

    ROOT/samples/LIDAR_TOP/<scene>__LIDAR_TOP__<us>.pcd.bin      key frames (2 Hz), float32 x5
    ROOT/sweeps/LIDAR_TOP/<scene>__LIDAR_TOP__<us>.pcd.bin       the scans in between (10 Hz)
    ROOT/samples/CAM_*/<scene>__CAM_*__<us>.jpg                  key frame images
    ROOT/sweeps/CAM_*/<scene>__CAM_*__<us>.jpg                   images in between
    ROOT/gts/<scene>/<token>/labels.npz                          Occ3D ground truth per key frame
    ROOT/occle_infos.pkl                                         mmdetection3d v1.1 info file
    ROOT/v1.0-occle/*.json                                       the same scenes as nuScenes tables
    ROOT/occle_dataset.yaml                                      how it was made, grid, rig

plus what the real dataset lacks, named after the image or scan it belongs to:
`synthetic/semantic/CAM_*/<stem>.png` (2D Occ3D classes, 255 = sky),
`synthetic/instance/CAM_*/<stem>.png` (uint16 object instance, 0 = stuff or sky),
`synthetic/depth/CAM_*/<stem>.png` (KITTI depth PNG) and `synthetic/points/<stem>.label` (uint8
Occ3D class per return).

The ground truth is the Occ3D one: `semantics` (17 = free) on the ego-frame grid,
`mask_lidar` = voxels the LiDAR beams of the key frame's window reached (as SemanticKITTI's
`.invalid`, inverted) and `mask_camera` = those of them a camera ray of the key frame reaches
before its surface (rendered depth + half a voxel diagonal), so `mask_camera` lies inside
`mask_lidar` as in the real data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from occle_core.data.nuscenes.occ3d import (
    OCC3D_CLASS_NAMES,
    OCC3D_FREE,
    Occ3DLabels,
    write_occ3d_labels,
)
from occle_core.data.semantickitti.labels import load_label_config
from occle_core.data.synthetic.camera import CameraRender
from occle_core.data.synthetic.generate import (
    FRAME_PERIOD_S,
    SequenceWriter,
    SynthConfig,
    depth_to_png,
    instance_to_png,
)
from occle_core.data.synthetic.lidar import LidarScan
from occle_core.data.synthetic.rasterize import rasterize
from occle_core.data.synthetic.rig import CameraSpec, LidarSpec, SensorRig
from occle_core.data.synthetic.visibility import ScanView, observed_voxels
from occle_core.geometry.camera import project_points
from occle_core.geometry.grid import OCC3D_GRID, GridSpec
from occle_core.geometry.transforms import invert_rigid, transform_points
from occle_core.io.binary import write_array
from occle_core.io.images import write_jpeg, write_png

INFO_FILE = "occle_infos.pkl"
#: Camera name -> yaw of its optical axis (degrees, counter-clockwise from forward) and its
#: horizontal field of view, as on the nuScenes vehicle.
SURROUND_CAMERAS: dict[str, tuple[float, float]] = {
    "CAM_FRONT": (0.0, 64.6),
    "CAM_FRONT_RIGHT": (-55.0, 64.6),
    "CAM_FRONT_LEFT": (55.0, 64.6),
    "CAM_BACK": (180.0, 89.7),
    "CAM_BACK_LEFT": (110.0, 64.6),
    "CAM_BACK_RIGHT": (-110.0, 64.6),
}
#: Synthetic (SemanticKITTI training) class -> Occ3D class. nuScenes calls parking areas
#: driveable surface, fences and walls manmade-or-barrier (we pick barrier for fences, as the
#: pseudo-label alignment does), poles and signs manmade, trunks vegetation; a rider belongs to
#: its cycle.
SEMANTICKITTI_TO_OCC3D: dict[str, str] = {
    "empty": "free",
    "car": "car",
    "bicycle": "bicycle",
    "motorcycle": "motorcycle",
    "truck": "truck",
    "other-vehicle": "bus",
    "person": "pedestrian",
    "bicyclist": "bicycle",
    "motorcyclist": "motorcycle",
    "road": "driveable_surface",
    "parking": "driveable_surface",
    "sidewalk": "sidewalk",
    "other-ground": "other_flat",
    "building": "manmade",
    "fence": "barrier",
    "vegetation": "vegetation",
    "trunk": "vegetation",
    "terrain": "terrain",
    "pole": "manmade",
    "traffic-sign": "manmade",
}
_IGNORE = 255


def occ3d_lut() -> NDArray[np.uint8]:
    """(256,) uint8: synthetic training class -> Occ3D class (255 stays 255)."""
    lut = np.full(256, _IGNORE, dtype=np.uint8)
    for index, name in enumerate(load_label_config().class_names):
        lut[index] = OCC3D_CLASS_NAMES.index(SEMANTICKITTI_TO_OCC3D[name])
    return lut


def _camera_spec(name: str, yaw_deg: float, hfov_deg: float, width: int, height: int) -> CameraSpec:
    """A level camera looking along `yaw_deg`, mounted 0.7 m out from the LiDAR and 0.3 m lower
    (nuScenes' cameras sit around the roof edge, below the LiDAR)."""
    yaw = np.deg2rad(yaw_deg)
    forward = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
    down = np.array([0.0, 0.0, -1.0])
    lidar_from_cam = np.eye(4)
    lidar_from_cam[:3, :3] = np.stack([right, down, forward], axis=1)
    lidar_from_cam[:3, 3] = 0.7 * forward + np.array([0.0, 0.0, -0.3])
    focal = (width / 2.0) / np.tan(np.deg2rad(hfov_deg) / 2.0)
    intrinsics = np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])
    return CameraSpec(name, width, height, intrinsics, invert_rigid(lidar_from_cam))


def surround_rig(scale: str = "full") -> SensorRig:
    """The nuScenes-like rig. "full": six 1600 x 900 cameras, 32 x 1084 LiDAR (+10..-30
    degrees), the Occ3D grid (200 x 200 x 16, 0.4 m, ego frame). "tiny": 160 x 90 cameras,
    32 x 512 LiDAR, 64 x 64 x 8 voxels of 0.8 m over the inner 51.2 x 51.2 x 6.4 m of that
    volume."""
    if scale not in ("full", "tiny"):
        raise ValueError(f"unknown scale {scale!r}; expected 'full' or 'tiny'")
    width, height = (1600, 900) if scale == "full" else (160, 90)
    cameras = tuple(
        _camera_spec(name, yaw, fov, width, height) for name, (yaw, fov) in SURROUND_CAMERAS.items()
    )
    lidar = LidarSpec(
        beams=32,
        elevation_min_deg=-30.67,
        elevation_max_deg=10.67,
        azimuth_steps=1084 if scale == "full" else 512,
        max_range=70.0,
        min_range=1.0,
        mount_height=1.84,
    )
    # Tiny: the inner 51.2 x 51.2 m of the Occ3D volume, so that a CPU step costs what one of
    # the KITTI-like tiny grid does (64 x 64 x 8 voxels).
    grid = (
        OCC3D_GRID
        if scale == "full"
        else GridSpec(
            origin=(-25.6, -25.6, OCC3D_GRID.origin[2]),
            voxel_size=(0.8, 0.8, 0.8),
            dims=(64, 64, 8),
            frame_id="ego",
        )
    )
    return SensorRig(
        lidar=lidar,
        cameras=cameras,
        velo_to_cam0=cameras[0].cam_from_lidar,
        projections={},
        grid=grid,
        scale=scale,
    )


def sample_token(seed: int, scene: str, index: int, what: str = "sample") -> str:
    """A stable 32-hex-digit token (nuScenes tokens look the same)."""
    return hashlib.sha1(f"{seed}/{scene}/{index}/{what}".encode()).hexdigest()[:32]


def scene_name(sequence: str | int) -> str:
    return f"scene-{int(sequence):04d}"


@dataclass
class SurroundReport:
    """What was written for one scene.

    Attributes:
        scene: scene name.
        frames: LiDAR scans written (key frames and sweeps).
        samples: key frames with ground truth.
        points_per_scan: mean returns per scan.
        mask_lidar: mean share of the grid inside `mask_lidar`.
        mask_camera: mean share of the grid inside `mask_camera`.
    """

    scene: str
    frames: int
    samples: int
    points_per_scan: float
    mask_lidar: float
    mask_camera: float


def camera_visible(
    centers_ego: NDArray[np.float64],
    rig: SensorRig,
    renders: Sequence[CameraRender],
    margin: float,
) -> NDArray[np.bool_]:
    """(M,) True for voxel centres (ego frame) that a camera ray of this frame reaches: inside
    some image, in front of it, and no deeper than the rendered surface + `margin` (sky pixels
    see up to the LiDAR's range)."""
    if len(renders) != len(rig.cameras):
        raise ValueError(f"camera_visible: {len(renders)} renders for {len(rig.cameras)} cameras")
    lidar_from_ego = invert_rigid(rig.vehicle_from_lidar())
    centers_lidar = transform_points(lidar_from_ego, centers_ego)
    projection = project_points(centers_lidar, [camera.model() for camera in rig.cameras])
    visible = np.zeros(len(centers_ego), dtype=bool)
    for index, render in enumerate(renders):
        rows = np.flatnonzero(projection.valid[index])
        columns, lines = projection.pixels()[index][rows].T
        depth = render.depth[lines, columns].astype(np.float64)
        surface = np.where(depth > 0, depth, rig.lidar.max_range)
        visible[rows[projection.depth[index][rows] <= surface + margin]] = True
    return visible


class SurroundSceneWriter:
    """Simulates one scene with the surround rig and writes it in the nuScenes/Occ3D layout.

    Args:
        root: dataset root.
        sequence: scene number (the world is the one `occle synth` builds for that sequence).
        config: what to generate (`gt_every` is the key frame period: 5 scans = 2 Hz).
        rig: the surround rig.
    """

    def __init__(self, root: Path, sequence: str | int, config: SynthConfig, rig: SensorRig):
        self.root = Path(root)
        self.scene = scene_name(sequence)
        self.config = config
        self.rig = rig
        self.simulator = SequenceWriter(self.root, sequence, config, rig)
        self.lut = occ3d_lut()
        self._centers_ego = rig.grid.voxel_centers().reshape(-1, 3).astype(np.float64)

    def _stem(self, sensor: str, index: int) -> str:
        microseconds = round(self.capture_time(index) * 1e6)
        return f"{self.scene}__{sensor}__{microseconds}"

    def capture_time(self, index: int) -> float:
        """Capture time (s): scenes are spaced a day apart, like separate nuScenes logs."""
        return 1.5e9 + 86400.0 * int(self.scene.split("-")[1]) + index * FRAME_PERIOD_S

    def _folder(self, index: int) -> str:
        return "samples" if index % self.config.gt_every == 0 else "sweeps"

    def lidar_file(self, index: int) -> str:
        return f"{self._folder(index)}/LIDAR_TOP/{self._stem('LIDAR_TOP', index)}.pcd.bin"

    def image_file(self, camera: str, index: int) -> str:
        return f"{self._folder(index)}/{camera}/{self._stem(camera, index)}.jpg"

    def ego_pose(self, index: int) -> NDArray[np.float64]:
        """(4, 4) ego2global at frame `index`."""
        assert self.simulator.scene is not None
        return self.simulator.scene.ego_pose(index * FRAME_PERIOD_S)

    def write_scan(self, index: int, scan: LidarScan, renders: Sequence[CameraRender]) -> None:
        """The .pcd.bin (x, y, z, intensity 0..255, ring), the point classes and the images."""
        row, _, _ = self.rig.lidar.bin_of(scan.points[:, :3].astype(np.float64))
        cloud = np.column_stack(
            [scan.points[:, :3], scan.points[:, 3] * 255.0, row.astype(np.float32)]
        ).astype(np.float32)
        write_array(self.root / self.lidar_file(index), cloud, np.float32)
        stem = self._stem("LIDAR_TOP", index)
        write_array(
            self.root / "synthetic" / "points" / f"{stem}.label", self.lut[scan.labels], np.uint8
        )
        for camera, render in zip(self.rig.cameras, renders, strict=True):
            write_jpeg(self.root / self.image_file(camera.name, index), render.image)
            image_stem = self._stem(camera.name, index)
            semantic = self.lut[render.semantic]
            semantic_path = self.root / "synthetic/semantic" / camera.name / f"{image_stem}.png"
            write_png(semantic_path, semantic)
            write_png(
                self.root / "synthetic/depth" / camera.name / f"{image_stem}.png",
                depth_to_png(render.depth),
            )
            write_png(
                self.root / "synthetic/instance" / camera.name / f"{image_stem}.png",
                instance_to_png(render.instance),
            )

    def ground_truth(
        self, index: int, views: Sequence[ScanView], renders: Sequence[CameraRender]
    ) -> Occ3DLabels:
        """Occ3D labels of key frame `index` from the scene and the scans of its window."""
        simulator, grid = self.simulator, self.rig.grid
        assert simulator.scene is not None
        primitives = simulator.scene.primitives_at(index * FRAME_PERIOD_S)
        classes = rasterize(primitives, grid, self.ego_pose(index)).labels
        semantics = self.lut[classes]
        semantics[classes == 0] = OCC3D_FREE
        centers_world = transform_points(self.ego_pose(index), self._centers_ego)
        first = max(0, index - self.config.window_before)
        last = min(len(views), index + self.config.window_after + 1)
        margin = float(np.linalg.norm(grid.voxel_size)) / 2.0
        lidar = observed_voxels(centers_world, views[first:last], self.rig.lidar, margin)
        camera = camera_visible(self._centers_ego, self.rig, renders, margin) & lidar
        return Occ3DLabels(
            semantics=semantics,
            mask_lidar=lidar.reshape(grid.shape),
            mask_camera=camera.reshape(grid.shape),
        )

    def info(self, index: int, max_sweeps: int = 10) -> dict[str, Any]:
        """The mmdetection3d v1.1 `data_list` entry of key frame `index` (plain lists and
        floats, plus `scene_name` and `occ_path` as the Occ3D baselines add)."""
        lidar2ego = self.rig.vehicle_from_lidar()
        token = sample_token(self.config.seed, self.scene, index)
        images = {}
        for camera in self.rig.cameras:
            images[camera.name] = {
                "img_path": Path(self.image_file(camera.name, index)).name,
                "cam2img": camera.intrinsics.tolist(),
                "cam2ego": (lidar2ego @ invert_rigid(camera.cam_from_lidar)).tolist(),
                "lidar2cam": camera.cam_from_lidar.tolist(),
                "timestamp": self.capture_time(index),
                "sample_data_token": sample_token(self.config.seed, self.scene, index, camera.name),
                "height": camera.height,
                "width": camera.width,
            }
        sweeps = [
            {
                "timestamp": self.capture_time(earlier),
                "ego2global": self.ego_pose(earlier).tolist(),
                "sample_data_token": sample_token(self.config.seed, self.scene, earlier, "lidar"),
                "lidar_points": {
                    "lidar_path": self.lidar_file(earlier),
                    "lidar2ego": lidar2ego.tolist(),
                },
            }
            for earlier in range(index - 1, max(-1, index - 1 - max_sweeps), -1)
        ]
        return {
            "token": token,
            "timestamp": self.capture_time(index),
            "ego2global": self.ego_pose(index).tolist(),
            "lidar_points": {
                "num_pts_feats": 5,
                "lidar_path": Path(self.lidar_file(index)).name,
                "lidar2ego": lidar2ego.tolist(),
            },
            "lidar_sweeps": sweeps,
            "images": images,
            "scene_name": self.scene,
            "occ_path": f"gts/{self.scene}/{token}",
        }

    def run(
        self, progress: Callable[[str, int, int], None] = lambda *_: None
    ) -> tuple[SurroundReport, list[dict[str, Any]]]:
        """Simulate and write every scan, then the ground truth of the key frames.

        Returns:
            The report and the info entries of the key frames, in time order.
        """
        simulator = self.simulator
        simulator.build_scene()
        views: list[ScanView] = []
        key_renders: dict[int, list[CameraRender]] = {}
        points = 0
        for index in range(self.config.frames):
            scan, renders = simulator.simulate_frame(index)
            self.write_scan(index, scan, renders)
            views.append(ScanView(simulator.lidar_pose(index), scan.range_image))
            points += len(scan.points)
            if index % self.config.gt_every == 0:
                key_renders[index] = renders
            progress("scan", index + 1, self.config.frames)
        infos, lidar_share, camera_share = [], [], []
        for done, (index, renders) in enumerate(key_renders.items()):
            labels = self.ground_truth(index, views, renders)
            info = self.info(index)
            write_occ3d_labels(self.root / info["occ_path"] / "labels.npz", labels)
            lidar_share.append(float(labels.mask_lidar.mean()))
            camera_share.append(float(labels.mask_camera.mean()))
            infos.append(info)
            progress("ground truth", done + 1, len(key_renders))
        report = SurroundReport(
            self.scene,
            self.config.frames,
            len(infos),
            points / max(self.config.frames, 1),
            float(np.mean(lidar_share)) if lidar_share else 0.0,
            float(np.mean(camera_share)) if camera_share else 0.0,
        )
        return report, infos
