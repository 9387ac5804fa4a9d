"""Video files and images on disk: probing, frame extraction, frame names, the overlay video
and the demo clip."""
