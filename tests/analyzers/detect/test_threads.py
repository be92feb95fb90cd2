import pytest

from watchkeeper.analyzers.detect.onnx import default_threads


@pytest.mark.parametrize(("cores", "threads"), [(None, 1), (1, 1), (2, 1), (4, 2), (16, 8)])
def test_default_detector_threads_leave_cores_for_decoding(cores: int | None, threads: int) -> None:
    assert default_threads(cores) == threads
