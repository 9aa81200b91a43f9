"""Scar quantification algorithms: plain numpy/scipy/scikit-image, no Slicer and no Qt."""
