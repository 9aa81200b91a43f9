"""Pipeline stages: objects with a `name` and `run(ctx, progress)` (see pipeline.Stage)."""

from .myocardium import MyocardiumStage
from .roi import LVROIStage
from .standardize import StandardizeStage

__all__ = ["LVROIStage", "MyocardiumStage", "StandardizeStage"]
