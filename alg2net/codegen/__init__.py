"""Stage 5, emit: the learnable form to the source of a standalone PyTorch module.

`options` is light (the command line lists its choices); `emit` loads black and jinja2, so import it explicitly.
"""
