"""Optical flow between sampled frames: the folder-to-folder stage and its engines
(RAFT through torchvision, OpenCV's DIS and Farneback)."""
