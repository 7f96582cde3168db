"""Built-in transformers: each module here registers its classes on import, as a user's would.

The catalog (:mod:`ccr.transformers.registry`) imports a module when a config first names one of
its transformers, so a config that uses two built-ins does not load the other twenty.
"""
