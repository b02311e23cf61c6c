"""twolayer._progress: in a notebook, tqdm's widget bar when ipywidgets is there, else the epoch lines alone."""

from __future__ import annotations

import pytest
from kernel import run_cells

TRAIN = """
import numpy as np
from twolayer import TwoLayerNet
from twolayer.training import train
x, t = np.random.default_rng(0).random((20, 4)), np.arange(20) % 3
history = train(TwoLayerNet(4, 5, 3, seed=0), x, t, x, t, iters_num=4, batch_size=10, seed=0)
"""


@pytest.mark.parametrize("ipywidgets", [True, False], ids=["ipywidgets", "no-ipywidgets"])
def test_training_in_a_notebook(ipywidgets):
    if ipywidgets:
        pytest.importorskip("ipywidgets")
    hide = (
        ""
        if ipywidgets
        else "import sys; sys.modules['ipywidgets'] = None  # as if not installed\n"
    )
    (outputs,) = run_cells(hide + TRAIN)
    widgets = [
        o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    text = "".join(
        o["text"] for o in outputs if o["output_type"] == "stream" and o["name"] == "stdout"
    )
    assert not [o for o in outputs if o["output_type"] == "error"], outputs
    assert len(widgets) == (1 if ipywidgets else 0)
    assert text.count("train acc, test acc | ") == 2  # an epoch is 2 iterations of 10 out of 20
    assert "\r" not in text and not [o for o in outputs if o.get("name") == "stderr"]
