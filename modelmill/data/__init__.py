"""Reading data files and checking what a model would silently learn wrong from them."""
