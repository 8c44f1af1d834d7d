"""owd stage package: crawler."""
