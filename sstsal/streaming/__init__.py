"""Saliency for 360-degree streaming: tile scores per segment, saliency-driven encoding, its quality measures."""
