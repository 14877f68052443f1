import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Model tests run on one torch thread: deterministic and faster on a shared 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
