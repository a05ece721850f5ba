"""Official benchmark metrics: SemanticKITTI SSC and Occ3D-nuScenes mIoU.

The accumulators (`SSCConfusion`, `Occ3DConfusion`) work on in-memory class arrays, so training
validation can reuse them; `evaluate_semantickitti` / `evaluate_occ3d` read the official file
layouts. Numbers are bit-identical to the reference scripts (semantic-kitti-api
`evaluate_completion.py`, the Occ3D challenge's `Metric_mIoU`); `report` formats them in percent.
"""

from occle_core.eval.occ3d import Occ3DConfusion, Occ3DScores, evaluate_occ3d, occ3d_scores
from occle_core.eval.report import (
    format_table,
    per_class_percent,
    percent,
    report_dict,
    write_json_report,
)
from occle_core.eval.semantickitti import (
    SSCConfusion,
    SSCScores,
    evaluate_semantickitti,
    ssc_scores,
)

__all__ = [
    "Occ3DConfusion",
    "Occ3DScores",
    "SSCConfusion",
    "SSCScores",
    "evaluate_occ3d",
    "evaluate_semantickitti",
    "format_table",
    "occ3d_scores",
    "per_class_percent",
    "percent",
    "report_dict",
    "ssc_scores",
    "write_json_report",
]
