"""Dataset readers and writers in the official file formats."""
