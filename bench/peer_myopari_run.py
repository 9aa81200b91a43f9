"""The peer's whole job on one study, as a user would script it: myopari 0.1.6's EMIDEC model
(ONNX Runtime, CPU) on a NIfTI LGE volume, label map written as NIfTI. Run with the peer's own
Python (a separate environment: pip install --no-deps myopari==0.1.6, then onnxruntime,
SimpleITK, scikit-image); bench_inference.py times it as a whole process.

    PEER_PYTHON bench/peer_myopari_run.py STUDY.nii.gz OUT.nii.gz
"""

import importlib
import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import SimpleITK as sitk

# myopari/__init__ imports its napari/Qt widget; load only its processors package.
spec = importlib.util.find_spec("myopari")
package = types.ModuleType("myopari")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["myopari"] = package
seg = importlib.import_module("myopari.processors.SEGProcessor")

image = sitk.ReadImage(sys.argv[1])
volume = np.transpose(sitk.GetArrayFromImage(image).astype(np.float32), (1, 2, 0))  # (H, W, D)
module = seg.SEG_module()
module.model_name = seg.SegModel.TIRAMISU_EMIDEC.value
module.edge_device = seg.EdgeDevice.RASBERRY_PI.value  # the CPU provider
labels = np.asarray(module.segment(volume))
labels = np.transpose(labels, (2, 0, 1)).astype(np.uint8)
out = sitk.GetImageFromArray(labels)
out.CopyInformation(image)
sitk.WriteImage(out, str(Path(sys.argv[2])), True)
