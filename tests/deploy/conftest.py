import shutil

import pytest

from tests.deploy.stack import collect_static


@pytest.fixture(scope="session")
def static_root():
    """The collected static files (the Dockerfile's build step), once per run."""
    root = collect_static()
    yield root
    shutil.rmtree(root.parent, ignore_errors=True)
