"""Stage 5, emit: the learnable form to the source of a standalone PyTorch module.

    options (the compile options; light: the command line lists them)
    describe, forward (the module as frozen values: names, params, statements, docstrings; warnings for options)
    emit (the templates lay the description out, black formats it; loads jinja2 and black)

Import each explicitly: this package imports nothing, so `check` never loads black or jinja2.
"""
