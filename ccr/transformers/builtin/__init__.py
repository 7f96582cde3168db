"""Built-in transformers: each module here registers its classes on import, as a user's would."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
