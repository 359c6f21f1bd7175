"""TensorFlow's error messages: the line that names the cause, not the generic header.

The messages below are TensorFlow 2.21's own, captured from graph-mode sessions
(``tf.compat.v1``) reading a variable that was never initialised, as the MLP of
``tests/notebooks/tf1_mlp_never_initialised.ipynb`` does (that golden notebook checks
the same messages end to end in a real kernel).
"""
from grader.kernel.errortext import error_cause, is_tensorflow_message
from grader.results import CellError

# s.run(probas, ...) in the learner's cell.
DETECTED = """Graph execution error:

Detected at node 'dense_2/MatMul/ReadVariableOp' defined at (most recent call last):
    File "/tmp/ipykernel_12/3391.py", line 6, in <module>
    File "/venv/lib/python3.11/site-packages/tf_keras/src/legacy_tf_layers/core.py", line 271, in dense
Node: 'dense_2/MatMul/ReadVariableOp'
Attempting to use uninitialized value dense_2/kernel
\t [[{{node dense_2/MatMul/ReadVariableOp}}]]

Original stack trace for 'dense_2/MatMul/ReadVariableOp':
  File "/tmp/ipykernel_12/3391.py", line 6, in <module>
  File "/venv/lib/python3.11/site-packages/tensorflow/python/ops/variables.py", line 1, in x
"""
# convert_variables_to_constants (the grader's export): an internal operation, not the learner's.
RETVAL = """Graph execution error:

Attempting to use uninitialized value dense_2/bias
\t [[{{node _retval_dense_2/bias_0_4}}]]"""
ROOTS = """Graph execution error:

2 root error(s) found.
  (0) FAILED_PRECONDITION: Attempting to use uninitialized value dense_2/kernel
\t [[{{node dense_2/MatMul/ReadVariableOp}}]]
\t [[Mean/_5]]
  (1) FAILED_PRECONDITION: Attempting to use uninitialized value dense_2/kernel
\t [[{{node dense_2/MatMul/ReadVariableOp}}]]
0 successful operations.
0 derived errors ignored."""
EAGER = ("{{function_node __wrapped__MatMul_device_/job:localhost/replica:0/task:0/device:CPU:0}} "
         "Matrix size-incompatible: In[0]: [2,3], In[1]: [4,5] [Op:MatMul]")
TF1 = ("You must feed a value for placeholder tensor 'Placeholder_1' with dtype float and shape [?,10]\n"
       "\t [[node Placeholder_1 (defined at <ipython-input-7-1f2e>:3) ]]")


def test_the_cause_and_the_operation_are_quoted():
    assert error_cause(DETECTED) == ("Attempting to use uninitialized value dense_2/kernel "
                                     "(operation dense_2/MatMul/ReadVariableOp)")
    assert error_cause(ROOTS) == ("Attempting to use uninitialized value dense_2/kernel "
                                  "(operation dense_2/MatMul/ReadVariableOp)")


def test_internal_operations_are_left_out():
    assert error_cause(RETVAL) == "Attempting to use uninitialized value dense_2/bias"


def test_eager_and_tf1_layouts():
    assert error_cause(EAGER) == "Matrix size-incompatible: In[0]: [2,3], In[1]: [4,5] [Op:MatMul]"
    # The operation is already named in the cause: not repeated.
    assert error_cause(TF1) == ("You must feed a value for placeholder tensor 'Placeholder_1' with "
                                "dtype float and shape [?,10]")


def test_other_messages_keep_their_first_line():
    assert not is_tensorflow_message("name 'labels' is not defined")
    assert error_cause("name 'labels' is not defined") == "name 'labels' is not defined"
    assert error_cause("\n  first\nsecond") == "first"
    assert error_cause("") == ""


def test_a_cells_summary_names_the_cause():
    error = CellError(cell=19, ename="FailedPreconditionError", evalue=DETECTED)
    assert error.summary() == ("cell 19 raised FailedPreconditionError: Attempting to use uninitialized "
                               "value dense_2/kernel (operation dense_2/MatMul/ReadVariableOp)")
    assert "Graph execution error" not in error.summary()
    assert CellError(cell=2, ename="NameError", evalue="name 'labels' is not defined").summary() == \
        "cell 2 raised NameError: name 'labels' is not defined"
