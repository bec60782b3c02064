"""`alg2net check FILE.alg --plot ROOTS.png`: a PNG of the roots of rho and the learnable params' regions; a clear
error (exit 2) without matplotlib."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from alg2net.cli import main

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parent.parent
HEAVY_BALL = str(ROOT / "examples" / "heavy_ball.alg")
LM_RESNET = str(ROOT / "examples" / "lm_resnet.alg")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("algorithm", [HEAVY_BALL, LM_RESNET, str(ROOT / "examples" / "bdf2.alg")])
def test_plot_writes_a_png(tmp_path, capsys, algorithm):
    path = tmp_path / "roots.png"
    status = main(["check", algorithm, "--plot", str(path)])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert path.read_bytes().startswith(PNG)
    assert "verdict: guaranteed" in out  # the report is printed as without --plot


def test_plot_with_weights_writes_a_png(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from alg2net.api import load

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = load(LM_RESNET)(4, 12)
    with torch.no_grad():
        network.kn[7] = 1.24
    torch.save(network.state_dict(), tmp_path / "lm.pt")
    path = tmp_path / "roots.png"
    status = main(["check", LM_RESNET, "--weights", str(tmp_path / "lm.pt"), "--plot", str(path)])
    capsys.readouterr()
    assert status == 1
    assert path.read_bytes().startswith(PNG)


def test_plot_without_matplotlib_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    path = tmp_path / "roots.png"
    status = main(["check", HEAVY_BALL, "--plot", str(path)])
    _, err = capsys.readouterr()
    assert status == 2
    assert "--plot needs matplotlib, which is not installed" in err and "alg2net[plot]" in err
    assert "Traceback" not in err and not path.exists()


def test_plot_to_a_missing_folder_is_a_clear_error(tmp_path, capsys):
    status = main(["check", HEAVY_BALL, "--plot", str(tmp_path / "no" / "such" / "roots.png")])
    _, err = capsys.readouterr()
    assert status == 2 and "cannot write the plot" in err
