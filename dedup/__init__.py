"""owd stage package: dedup."""
