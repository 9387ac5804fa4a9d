"""From eye-tracking recordings to ground truth: readers of gaze formats, fixation
identification on the sphere, Gaussian saliency maps of angular distance, and exports.

Directions follow ``directions.csv``: yaw 0 at the image centre, positive to the right,
pitch positive up, both in degrees.
"""
