"""Tests of the course's helper modules that learner notebooks import.

The helpers live in ``assignments/mnist_digits/helpers`` and are imported by
notebooks under their bare names (``import grading``). Here they are loaded
from their files under prefixed names, so that they cannot clash with other
modules of the same name in one pytest run.
"""
import hashlib
import http.server
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from grader.kernel import agent

ROOT = Path(__file__).resolve().parents[2]
HELPERS = ROOT / "assignments" / "mnist_digits" / "helpers"
MNIST = (ROOT.parent / "shared" / "data" / "mnist.npz").resolve()
KEY = "XtD7ho3TEeiHQBWLWejjYAA"
PARTS = ["9XaAS", "vmogZ", "RMv95", "i8bgs", "rE763"]
LEARNER_MESSAGE = (
    "You used an invalid email or your token may have expired. Please make sure you have "
    "entered all fields correctly. Try generating a new token if the issue still persists."
)


def _load(name):
    """Import helpers/<name>.py as ``course_helpers_<name>`` (once per run)."""
    module_name = f"course_helpers_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, HELPERS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


@pytest.fixture
def grading(monkeypatch):
    monkeypatch.delenv("GRADER_SUBMIT_URL", raising=False)
    return _load("grading")


@pytest.fixture
def harness(monkeypatch):
    """The kernel agent switched on, with empty records (restored afterwards)."""
    monkeypatch.setitem(agent._STATE, "active", True)
    monkeypatch.setitem(agent._STATE, "answers", {})
    monkeypatch.setitem(agent._STATE, "submits", [])
    monkeypatch.setitem(agent._STATE, "data", {})
    return agent._STATE


# ---------------------------------------------------------------- grading: text


@pytest.mark.parametrize(
    "answer, text",
    [
        ("784 10 10 None 784 None 10", "784 10 10 None 784 None 10"),
        ([1, 2.5, "a"], "1 2.5 'a'"),
        ((3, None), "3 None"),
        (0.932, "0.932"),
        (np.float32(0.29), "0.29"),
        (np.float64(0.2567), "0.2567"),
        (np.int64(7), "7"),
        (np.bool_(True), "True"),
        (np.array(0.5, dtype=np.float32), "0.5"),
        ([np.float32(0.29), np.int64(3)], "0.29 3"),
        (np.array([0.5, 0.29], dtype=np.float32), "0.5 0.29"),
        (np.array([[1, 2], [3, 4]], dtype=np.int64), "[1, 2] [3, 4]"),
        ([(np.float32(0.1), np.int64(2)), [np.float32(0.29)]], "(0.1, 2) [0.29]"),
        (iter([np.int32(1), np.int32(2)]), "1 2"),
    ],
)
def test_set_answer_text(grading, answer, text):
    grader = grading.Grader(KEY, all_parts=PARTS)
    grader.set_answer("vmogZ", answer)
    assert grader.answers["vmogZ"] == text
    assert grading.answer_text(text) == text


def test_parts_start_empty_and_unknown_parts_are_kept(grading):
    grader = grading.Grader(KEY, all_parts=PARTS)
    assert grader.answers == {part: None for part in PARTS}
    grader.set_answer("extra", 1)
    assert grader.answers["extra"] == "1"


# ---------------------------------------------------------------- grading: harness mode


def test_harness_records_json_safe_answers(grading, harness):
    assert grading._agent is agent
    grader = grading.Grader(KEY, all_parts=PARTS)
    grader.set_answer("9XaAS", "784 10 10 None 784 None 10")
    grader.set_answer("vmogZ", np.float32(0.29))
    grader.set_answer("RMv95", np.array([[1, 2], [3, 4]]))
    grader.set_answer("i8bgs", (x for x in [np.float32(0.5), object]))
    grader.set_answer("rE763", object)

    answers = harness["answers"]
    assert answers["9XaAS"] == {"value": "784 10 10 None 784 None 10", "text": "784 10 10 None 784 None 10"}
    assert answers["vmogZ"] == {"value": 0.29, "text": "0.29"}
    assert type(answers["vmogZ"]["value"]) is float
    assert answers["RMv95"] == {"value": [[1, 2], [3, 4]], "text": "[1, 2] [3, 4]"}
    # A generator is read once, for both the text and the value.
    assert answers["i8bgs"] == {"value": [0.5, repr(object)], "text": f"0.5 {object!r}"}
    assert answers["rE763"] == {"value": repr(object), "text": repr(object)}
    json.dumps(answers)  # everything handed to the agent is JSON-safe
    # The grader keeps its own copy as usual.
    assert grader.answers["vmogZ"] == "0.29"


def test_harness_submit_posts_nothing(grading, harness, server, capsys):
    grader = grading.Grader(KEY, all_parts=PARTS, submit_url=server.url)
    grader.set_answer("vmogZ", 0.25)
    result = grader.submit("student@example.com", "TOKEN")

    assert harness["submits"] == ["student@example.com"]
    assert server.received == []
    assert not result and result.recorded_by_harness
    assert "nothing was sent to Coursera" in capsys.readouterr().out


# ---------------------------------------------------------------- grading: real HTTP server


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        server = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if server.delay:
            server.release.wait(server.delay)  # set at teardown, so the test never waits long
        status, content_type, payload = server.reply
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1 (ephemeral port) that records each POST."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.received = []
    httpd.delay = 0
    httpd.release = threading.Event()
    httpd.reply = (201, "application/json", b"{}")
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/api/submit"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_submit_accepted_sends_the_course_body(grading, server, monkeypatch, capsys):
    monkeypatch.setenv("GRADER_SUBMIT_URL", server.url)
    grader = grading.Grader(KEY, all_parts=PARTS)
    grader.set_answer("9XaAS", "784 10 10 None 784 None 10")
    grader.set_answer("RMv95", np.float64(0.932))

    result = grader.submit("student@example.com", "TOKEN")

    assert result and result.accepted and result.status_code == 201
    assert capsys.readouterr().out == "Submitted to Coursera platform. See results on assignment page!\n"
    [request] = server.received
    assert request["path"] == "/api/submit"
    assert "Content-Type" not in request["headers"]  # as the course: no Content-Type
    assert json.loads(request["body"]) == {
        "assignmentKey": KEY,
        "submitterEmail": "student@example.com",
        "secret": "TOKEN",
        "parts": {
            "9XaAS": {"output": "784 10 10 None 784 None 10"},
            "vmogZ": {},
            "RMv95": {"output": "0.932"},
            "i8bgs": {},
            "rE763": {},
        },
    }


def test_submit_prints_learner_message(grading, server, capsys):
    body = json.dumps({"errorCode": "invalidEmailOrToken", "details": {"learnerMessage": LEARNER_MESSAGE}})
    server.reply = (401, "application/json", body.encode())
    result = grading.Grader(KEY, PARTS, submit_url=server.url).submit("a@b.c", "bad")
    assert not result and result.status_code == 401
    assert capsys.readouterr().out == LEARNER_MESSAGE + "\n"


def test_submit_unexpected_json_shows_status_and_body(grading, server, capsys):
    server.reply = (400, "application/json", b'{"errorCode": "badRequest"}')
    result = grading.Grader(KEY, PARTS, submit_url=server.url).submit("a@b.c", "t")
    out = capsys.readouterr().out
    assert not result and result.status_code == 400
    assert "HTTP 400" in out and "badRequest" in out and out.count("\n") == 1


def test_submit_html_error_page_is_readable(grading, server, capsys):
    page = (
        "<!DOCTYPE html><html><head><title>500 Internal Server Error</title>"
        "<style>body {color: red}</style></head><body><h1>Internal Server Error</h1>"
        "<p>The server encountered an internal error.</p>" + "<p>filler</p>" * 200 + "</body></html>"
    )
    server.reply = (500, "text/html", page.encode())
    result = grading.Grader(KEY, PARTS, submit_url=server.url).submit("a@b.c", "t")
    out = capsys.readouterr().out
    assert not result and result.status_code == 500
    assert out.count("\n") == 1 and len(out) < 400
    assert "HTTP 500" in out and "Internal Server Error" in out
    assert "<" not in out and "color: red" not in out and "Traceback" not in out


def test_submit_to_closed_port_is_readable(grading, capsys):
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/submit"
    result = grading.Grader(KEY, PARTS, submit_url=url).submit("a@b.c", "t")
    out = capsys.readouterr().out
    assert not result and result.status_code is None
    assert out.startswith("Submission failed: could not reach") and url in out and "Traceback" not in out


def test_submit_timeout_is_readable(grading, server, capsys):
    server.delay = 5
    result = grading.Grader(KEY, PARTS, submit_url=server.url, timeout=0.3).submit("a@b.c", "t")
    out = capsys.readouterr().out
    assert not result and result.status_code is None
    assert "no answer" in out and "0.3 s" in out and "Traceback" not in out


# ---------------------------------------------------------------- grading_utils


def test_shapes_string_of_numpy_arrays():
    grading_utils = _load("grading_utils")
    arrays = [np.zeros((784, 10)), np.zeros(10), np.zeros((3, 784))]
    assert grading_utils.get_tensors_shapes_string(arrays) == "784 10 10 3 784"
    assert grading_utils.get_tensors_shapes_string([]) == ""


# TensorFlow runs in a child process: the notebooks' graph mode
# (disable_v2_behavior) is process-wide and cannot be undone once a graph
# exists, so running it here would change every later test of the run.
_TF_SCRIPT = r"""
import json, sys
import tensorflow.compat.v1 as tf
import grading_utils, keras_utils

out = {"eager_before": tf.executing_eagerly()}
s = keras_utils.reset_tf_session()  # switches to graph mode by itself
out["eager_after"] = tf.executing_eagerly()
out["is_default"] = tf.get_default_session() is s
out["is_keras_session"] = tf.keras.backend.get_session() is s

def model(b_shape):
    W = tf.get_variable("weights", shape=(784, 10), dtype=tf.float32)
    b = tf.get_variable("bias", shape=b_shape, dtype=tf.float32)
    input_X = tf.placeholder(tf.float32, shape=(None, 784))
    input_y = tf.placeholder(tf.float32, shape=(None, 10))
    logits = tf.matmul(input_X, W) + b
    probas = tf.nn.softmax(logits)
    classes = tf.argmax(probas, axis=1)
    return [W, b, input_X, input_y, logits, probas, classes]

tensors = model((10,))
out["dimension_objects"] = type(list(tensors[0].shape)[0]).__name__
out["four"] = grading_utils.get_tensors_shapes_string(tensors[:4])
out["seven"] = grading_utils.get_tensors_shapes_string(tensors)
try:
    grading_utils.get_tensors_shapes_string([tf.placeholder(tf.float32)])
except ValueError as error:
    out["unknown_rank"] = str(error)

s2 = keras_utils.reset_tf_session()  # same variable names again: needs a fresh graph
out["old_closed"] = s._closed
out["new_default"] = tf.get_default_session() is s2
out["b_1_10"] = grading_utils.get_tensors_shapes_string(model((1, 10))[:4])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def tf_run():
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join([str(HELPERS), str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", _TF_SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.tf
def test_shapes_string_of_tf1_graph_tensors(tf_run):
    assert tf_run["dimension_objects"] == "Dimension"  # the TF1 shapes the course read
    assert tf_run["four"] == "784 10 10 None 784 None 10"
    assert tf_run["seven"] == "784 10 10 None 784 None 10 None 10 None 10 None"
    assert tf_run["b_1_10"] == "784 10 1 10 None 784 None 10"
    assert "unknown rank" in tf_run["unknown_rank"] and "shape=" in tf_run["unknown_rank"]


@pytest.mark.tf
def test_reset_tf_session(tf_run):
    assert tf_run["eager_before"] and not tf_run["eager_after"]
    assert tf_run["is_default"] and tf_run["is_keras_session"]
    assert tf_run["old_closed"] and tf_run["new_default"]


def test_helpers_import_without_tensorflow():
    code = (
        "import sys, grading, grading_utils, keras_utils, matplotlib_utils, preprocessed_mnist\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib', 'requests') if m in sys.modules))"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HELPERS), str(ROOT)]))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ---------------------------------------------------------------- matplotlib_utils


def test_training_curves_headless(monkeypatch):
    import matplotlib

    matplotlib_utils = _load("matplotlib_utils")
    monkeypatch.setattr(matplotlib_utils, "_ipython_display", lambda: None)  # as in a plain script
    curves = matplotlib_utils.SimpleTrainingCurves("cross-entropy", "accuracy")
    curves.add(np.float32(0.5), 0.4, 0.9, np.float64(0.91))
    curves.add(0.3, 0.35, 0.93, 0.92)
    assert curves.train_loss == [0.5, 0.3] and curves.valid_metric == [0.91, 0.92]
    assert curves.loss_axes.get_title() == "cross-entropy" and curves.metric_axes.get_title() == "accuracy"
    assert list(curves._lines["valid_loss"].get_ydata()) == [0.4, 0.35]
    matplotlib.pyplot.close(curves.fig)


def test_training_curves_redraw_in_place(monkeypatch):
    import matplotlib

    matplotlib_utils = _load("matplotlib_utils")
    calls = []

    class Display:
        # Stands in for IPython.display: a real notebook front end cannot run here.
        @staticmethod
        def clear_output(wait=False):
            calls.append(("clear", wait))

        @staticmethod
        def display(obj):
            calls.append(("display", obj))

    monkeypatch.setattr(matplotlib_utils, "_ipython_display", lambda: Display)
    curves = matplotlib_utils.SimpleTrainingCurves("loss", "accuracy")
    assert calls == []  # nothing shown before the first point
    curves.add(1, 1, 0, 0)
    assert calls == [("clear", True), ("display", curves.fig)]
    matplotlib.pyplot.close(curves.fig)


# ---------------------------------------------------------------- preprocessed_mnist


def _sha256(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


@pytest.fixture
def mnist(monkeypatch, tmp_path):
    """The module, with no data source configured and an empty Keras home."""
    monkeypatch.delenv("GRADER_DATA_MNIST", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return _load("preprocessed_mnist")


def _tiny_mnist(path, label):
    """A small file in MNIST's layout whose labels all equal ``label``.

    Real MNIST takes about a second to load here, so the tests of where the
    data comes from use files like this one; 10,000 rows are held out for
    validation, hence 10,002 training rows.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        x_train=np.full((10002, 28, 28), 255, np.uint8),
        y_train=np.full(10002, label, np.uint8),
        x_test=np.zeros((3, 28, 28), np.uint8),
        y_test=np.full(3, label, np.uint8),
    )
    return path


def test_course_split_of_the_real_file(mnist, monkeypatch, tmp_path):
    # As in the seed notebook: mnist.npz in the working folder.
    if not MNIST.is_file():
        pytest.skip(f"shared MNIST file missing: {MNIST}")
    (tmp_path / "mnist.npz").symlink_to(MNIST)
    monkeypatch.chdir(tmp_path)
    X_train, y_train, X_val, y_val, X_test, y_test = mnist.load_dataset_from_file()

    assert X_train.shape == (50000, 28, 28) and X_val.shape == (10000, 28, 28)
    assert X_test.shape == (10000, 28, 28)
    assert y_train.shape == (50000,) and y_val.shape == (10000,) and y_test.shape == (10000,)
    assert X_train.dtype == X_val.dtype == X_test.dtype == np.float32
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    # The sample patch printed by the seed notebook.
    np.testing.assert_allclose(
        X_train[1, 15:20, 5:10],
        [
            [0.0, 0.29803922, 0.96470588, 0.98823529, 0.43921569],
            [0.0, 0.33333333, 0.98823529, 0.90196078, 0.09803922],
            [0.0, 0.33333333, 0.98823529, 0.8745098, 0.0],
            [0.0, 0.33333333, 0.98823529, 0.56862745, 0.0],
            [0.0, 0.3372549, 0.99215686, 0.88235294, 0.0],
        ],
        rtol=1e-6,
    )
    # The arrays' hashes from shared/data/README.md: nothing lost or reordered.
    assert _sha256(np.concatenate([y_train, y_val])) == (
        "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13"
    )
    assert _sha256(y_test) == "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5"
    pixels = np.concatenate([X_train, X_val])
    pixels *= 255
    np.rint(pixels, out=pixels)
    assert _sha256(pixels.astype(np.uint8)) == (
        "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757"
    )


def test_flatten(mnist, tmp_path):
    X_train, _, X_val, _, X_test, _ = mnist.load_dataset_from_file(
        flatten=True, path=_tiny_mnist(tmp_path / "m.npz", 1)
    )
    assert X_train.shape == (2, 784) and X_val.shape == (10000, 784) and X_test.shape == (3, 784)
    assert X_train.dtype == np.float32 and X_train.max() == 1.0


def test_load_dataset_from_env_var_beats_keras_cache(mnist, monkeypatch, tmp_path):
    _tiny_mnist(tmp_path / "keras_home" / "datasets" / "mnist.npz", 2)
    assert mnist.load_dataset()[1].tolist() == [2, 2]  # the Keras cache, no download
    monkeypatch.setenv("GRADER_DATA_MNIST", str(_tiny_mnist(tmp_path / "env.npz", 3)))
    assert mnist.load_dataset()[1].tolist() == [3, 3]


def test_load_dataset_env_var_to_missing_file(mnist, monkeypatch, tmp_path):
    # An explicit choice that fails is an error, not a silent fallback.
    _tiny_mnist(tmp_path / "keras_home" / "datasets" / "mnist.npz", 2)
    monkeypatch.setenv("GRADER_DATA_MNIST", str(tmp_path / "nope.npz"))
    with pytest.raises(FileNotFoundError, match="GRADER_DATA_MNIST"):
        mnist.load_dataset()


def test_load_dataset_from_file_missing_says_where(mnist, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as raised:
        mnist.load_dataset_from_file()
    message = str(raised.value)
    assert str(tmp_path / "mnist.npz") in message and "path=" in message


def test_harness_data_wins(mnist, harness, monkeypatch, tmp_path):
    assert mnist._agent is agent
    _tiny_mnist(tmp_path / "mnist.npz", 4)  # the learner's own file in the working folder
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GRADER_DATA_MNIST", str(_tiny_mnist(tmp_path / "env.npz", 3)))
    harness["data"]["mnist"] = str(_tiny_mnist(tmp_path / "harness.npz", 5))
    assert mnist.load_dataset_from_file()[1].tolist() == [5, 5]
    assert mnist.load_dataset()[1].tolist() == [5, 5]


def test_not_an_mnist_file(mnist, monkeypatch, tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((1, 28, 28), np.uint8))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="y_train, x_test, y_test"):
        mnist.load_dataset_from_file()
