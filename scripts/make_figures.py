"""Regenerate the README's figures in docs/ by running gradsim itself.

    python scripts/make_figures.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"

FIGURES: dict[str, list[str]] = {
    "vanish.png": ["vanish"],
    "explode.png": ["vanish", "--preset", "nielsen-explode", "--depth", "12"],
    "acts.png": ["acts", "--act", "sigmoid,tanh,relu,gelu,swish"],
    "steps.png": ["steps"],
    "clip-plane.png": ["clip", "--grad", "3,4"],
    "clip-train.png": ["clip", "--steps", "200"],
    # sigmoid with Nielsen's init beside relu with He's, same digits, same seed (needs gradsim[digits])
    "train-sigmoid.png": ["train", "--data", "digits", "--epochs", "30"],
    "train-relu.png": ["train", "--data", "digits", "--act", "relu", "--init", "he", "--epochs", "30"],
    # C. Hansen's comparison: six activations, Adam with Keras' clipvalue=0.5, dropout (AlphaDropout for selu)
    "train-compare.png": ["train", "--data", "digits", "--act", "sigmoid,relu,elu,leaky-relu,selu,gelu", "--alpha",
                          "0.2", "--optimizer", "adam", "--clip-mode", "value", "--clip-threshold", "0.5",
                          "--dropout", "0.1", "--epochs", "15"],
    "phase-tanh.png": ["phase", "--act", "tanh"],
    "phase-relu.png": ["phase", "--act", "relu"],
    "window.png": ["window"],
    "ensemble-chain.png": ["ensemble", "--depth", "50", "--trials", "100000"],
    "ensemble-tanh.png": ["ensemble", "--width", "256", "--depth", "30", "--act", "tanh", "--sigma-w2", "1.5",
                          "--sigma-b2", "0.05", "--trials", "100"],
    "rnn-vanish.png": ["rnn"],
    "rnn-explode.png": ["rnn", "--weight", "8", "--bias", "-4", "--h0", "0.5", "--input", "const:0", "--steps", "200"],
    "rnn-cliff.png": ["rnn", "--surface"],
    "rnn-train.png": ["rnn", "--train", "--steps", "10", "--radius", "1.5", "--lr", "0.3"],
    "rnn-lstm.png": ["rnn", "--cell", "lstm", "--forget-bias", "40", "--steps", "1000"],
    # signal propagation (issue 15): a plain tanh MLP, the same with residual branches, BatchNorm's explosion
    "spp-tanh.png": ["ensemble", "--width", "256", "--depth", "50", "--act", "tanh", "--forward", "--batch", "32",
                     "--trials", "8"],
    "spp-residual.png": ["ensemble", "--width", "256", "--depth", "50", "--act", "tanh", "--residual", "0.2",
                         "--batch", "32", "--trials", "8"],
    "bn-residual.png": ["ensemble", "--width", "512", "--depth", "30", "--act", "relu", "--init", "he", "--norm",
                        "batch", "--batch", "64", "--residual", "1", "--trials", "4"],
    "bn-explode.png": ["ensemble", "--width", "512", "--depth", "30", "--act", "relu", "--init", "he", "--norm",
                       "batch", "--batch", "64", "--trials", "4"],
    # the decision boundary over the epochs (TF Playground's spiral, Playground's lr 0.03 and batch 10)
    "train-spiral.gif": ["train", "--data", "spiral", "--act", "relu", "--hidden", "8,8,8,8", "--init", "he",
                         "--lr", "0.03", "--epochs", "300", "--frames", "20"],
}

#: Figures of several runs with different options side by side: made through the library, one figure each.
SPIRAL = dict(data="spiral", lr=0.03, epochs=300)
CIRCLE = dict(data="circle", act="relu", hidden="10,5", lr=0.03, epochs=30)
PANELS: dict[str, list[dict]] = {
    # the BP article's three pictures: 4 hidden tanh layers, 4 relu, 2 relu
    "train-boundaries.png": [dict(SPIRAL, act="tanh", hidden="8,8,8,8", init="xavier"),
                             dict(SPIRAL, act="relu", hidden="8,8,8,8", init="he"),
                             dict(SPIRAL, act="relu", hidden="8,8", init="he")],
    # the classic initialisation exercise: zeros, He x 10, He
    "train-inits.png": [dict(CIRCLE, init="zeros"), dict(CIRCLE, init="he", init_scale=10), dict(CIRCLE, init="he")],
}
#: Figures made by a script of their own (python SCRIPT --plot docs/NAME).
SCRIPTS: dict[str, str] = {"bn-rate.png": "bn_rate.py"}


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    for name, args in FIGURES.items():
        subprocess.run([sys.executable, "-m", "gradsim", *args, "--plot", str(DOCS / name)], check=True,
                       stdout=subprocess.DEVNULL)
    for name, script in SCRIPTS.items():
        subprocess.run([sys.executable, str(Path(__file__).resolve().parent / script), "--plot", str(DOCS / name)],
                       check=True, stdout=subprocess.DEVNULL)
    from gradsim import boundary_plots, training

    for name, runs in PANELS.items():
        boundary_plots.save([training.train(**options) for options in runs], DOCS / name)
        print(f"wrote docs/{name}", file=sys.stderr)


if __name__ == "__main__":
    main()
