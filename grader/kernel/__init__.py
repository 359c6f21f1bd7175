"""Code that runs inside a learner's kernel or the evaluator, never in the harness process.

Modules here may import TensorFlow (lazily) and import nothing of the harness; the
harness only ever sends them execute requests or pipe messages.

* :mod:`grader.kernel.launch`: the launcher that starts a kernel or the evaluator inside
  its cgroups, rlimits and sandbox;
* :mod:`grader.kernel.agent`: the agent installed in the kernel (claims, measurements,
  model export);
* :mod:`grader.kernel.tfsetup`, :mod:`grader.kernel.tf1`: TensorFlow's seeding, graph and
  Keras model export, which Keras ``import keras`` gives, and the TF1 compatibility layer;
* :mod:`grader.kernel.keras_models`: saved Keras models in the evaluator (checked, loaded
  without running a notebook's code, run, described);
* :mod:`grader.kernel.colab`: Colab artefacts (shell lines, magics) skipped;
* :mod:`grader.kernel.errortext`: TensorFlow's errors quoted by their cause;
* :mod:`grader.kernel.integrity`: the integrity draws (shuffled and perturbed inputs);
* :mod:`grader.kernel.evaluator_server`: the evaluator process that runs exported models
  (the harness's side is :mod:`grader.run.evaluator_client`);
* :mod:`grader.kernel.frames`: the evaluator's pipe protocol (typed frames, never pickle).
"""
