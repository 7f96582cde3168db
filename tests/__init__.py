"""ccr's tests: unit tests of the pure layers beside end-to-end tests through real servers."""

import pytest

# Helper modules assert too; show their values on failure as pytest does for test modules.
pytest.register_assert_rewrite("tests.support")
