"""owd stage package: extract."""
