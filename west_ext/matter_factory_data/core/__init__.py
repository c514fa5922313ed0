"""The pure core: models, validation, crypto and encoders.

Nothing in this package prints, prompts, exits or runs a program; it returns
values or raises :mod:`matter_factory_data.errors` exceptions.
"""
