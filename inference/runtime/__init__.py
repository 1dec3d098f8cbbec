"""Where models run and where their weights live: the torch device and precision, the models folder."""
