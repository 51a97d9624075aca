"""Weakly supervised semantic segmentation (WSSS) methods usable as switchable training-time parts."""
