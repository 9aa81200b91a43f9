"""Scar detection and segmentation in the LV-centred scar frame (256x256, see `frame`)."""
