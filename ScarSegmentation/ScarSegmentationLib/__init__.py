"""Scar segmentation pipeline: study I/O, models, stages, command line. No Qt, no slicer.app."""
