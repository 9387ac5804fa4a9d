"""Ways to see the result: an interactive 360-degree viewer page (``viewer.html``) and a
director's cut (``director.mp4``), a normal-field-of-view video whose camera follows the saliency."""
