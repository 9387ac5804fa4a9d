"""The SST-Sal network and what it needs: spherical sampling, checkpoints, published weights,
and the predictor that turns frame (and flow) folders into saliency maps."""
