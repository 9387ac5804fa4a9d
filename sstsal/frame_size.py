"""The frame size SST-Sal was trained on and reads: every 320x240 in the package comes from here."""

MODEL_WIDTH = 320
MODEL_HEIGHT = 240
MODEL_SIZE = (MODEL_WIDTH, MODEL_HEIGHT)  # (width, height), as OpenCV and ffmpeg take sizes
