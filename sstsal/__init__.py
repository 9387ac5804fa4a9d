"""SST-Sal saliency prediction for 360-degree equirectangular videos."""

__version__ = "0.1.0"
