"""Report room: one Report value and one renderer per output format."""
