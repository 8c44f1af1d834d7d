"""owd stage package: pools."""
