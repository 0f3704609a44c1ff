"""Batched ensemble training and the Fashion-MNIST symmetry-breaking study."""
