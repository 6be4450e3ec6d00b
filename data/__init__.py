"""Data contract: schema, loaders, validation, and the shipped synthetic dataset."""
