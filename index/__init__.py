"""owd stage package: index."""
