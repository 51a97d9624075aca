"""privobf: find what a photo reveals about people and hide exactly that."""
__version__ = "0.1.0"
