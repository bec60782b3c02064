"""Code generation: the learnable form to a standalone PyTorch module."""
