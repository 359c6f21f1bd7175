"""The data loader: explicit path > environment > cache > checked download."""
import hashlib
import http.server
import io
import threading
from pathlib import Path

import numpy as np
import pytest

from grader.specs.data import env_var, load_arrays, resolve
from grader.exceptions import DataError
from grader.specs import DataFile


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _spec(tmp_path, **kw) -> DataFile:
    defaults = dict(name="toy", file="toy.npz", cache=str(tmp_path / "cache" / "toy.npz"))
    defaults.update(kw)
    return DataFile(**defaults)


def test_explicit_path_wins_over_env_and_cache(tmp_path, monkeypatch):
    explicit = _npz(tmp_path / "explicit.npz", a=np.arange(3))
    env = _npz(tmp_path / "env.npz", a=np.arange(3))
    spec = _spec(tmp_path)
    Path(spec.cache).parent.mkdir()
    _npz(Path(spec.cache), a=np.arange(3))
    monkeypatch.setenv(env_var("toy"), str(env))
    assert resolve(spec, explicit=explicit) == explicit.resolve()
    assert resolve(spec) == env.resolve()
    monkeypatch.delenv(env_var("toy"))
    assert resolve(spec) == Path(spec.cache)


def test_missing_file_says_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.delenv(env_var("toy"), raising=False)
    with pytest.raises(DataError) as info:
        resolve(_spec(tmp_path), download=False)
    message = str(info.value)
    assert "--data toy=PATH" in message and "GRADER_DATA_TOY" in message


def test_explicit_path_that_does_not_exist(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        resolve(_spec(tmp_path), explicit=tmp_path / "nope.npz")


def test_array_checksums_are_verified(tmp_path):
    good = np.arange(5, dtype=np.uint8)
    path = _npz(tmp_path / "d.npz", a=good)
    spec = _spec(tmp_path, arrays_sha256={"a": hashlib.sha256(good.tobytes()).hexdigest()})
    assert load_arrays(spec, path)["a"].tolist() == [0, 1, 2, 3, 4]
    bad = _npz(tmp_path / "e.npz", a=good + 1)
    with pytest.raises(DataError, match="not the assignment's data"):
        load_arrays(spec, bad)


def test_not_an_archive(tmp_path):
    path = tmp_path / "x.npz"
    path.write_text("hello")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_arrays(_spec(tmp_path), path)


class _Serve(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Serve)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_download_is_checked_and_cached(tmp_path, monkeypatch, server):
    buffer = io.BytesIO()
    np.savez(buffer, a=np.arange(4))
    _Serve.body = buffer.getvalue()
    url = f"http://127.0.0.1:{server.server_address[1]}/toy.npz"
    monkeypatch.delenv(env_var("toy"), raising=False)
    spec = _spec(tmp_path, url=url, sha256=hashlib.sha256(_Serve.body).hexdigest())
    path = resolve(spec)
    assert path == Path(spec.cache) and path.read_bytes() == _Serve.body
    wrong = _spec(tmp_path / "w", url=url, sha256="0" * 64)
    with pytest.raises(DataError, match="expected 0000"):
        resolve(wrong)
    assert not Path(wrong.cache).exists()


def test_download_failure_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv(env_var("toy"), raising=False)
    spec = _spec(tmp_path, url="http://127.0.0.1:9/toy.npz")  # the discard port: nothing listens
    with pytest.raises(DataError, match="--data toy=PATH"):
        resolve(spec)


def test_shared_mnist_matches_declared_checksums(assignment, mnist_path):
    arrays = load_arrays(assignment.data_file("mnist"), mnist_path)
    assert arrays["y_train"][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
