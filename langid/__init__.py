"""owd stage package: langid."""
