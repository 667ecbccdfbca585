"""Draw docs/img/one_cycle.png from easytx.schedules.one_cycle (run: python docs/make_one_cycle_plot.py)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from easytx import schedules  # noqa: E402


def main() -> None:
    steps = 400
    values = schedules.simulate(
        lambda p: schedules.one_cycle(p, max_lr=5e-5, pct_start=0.25, moms=(0.95, 0.85)), steps
    )
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 4.5), sharex=True)
    top.plot([v[0] for v in values])
    top.set_ylabel("learning rate")
    top.set_title("fit_onecycle(5e-5, epochs), pct_start=0.25")
    bottom.plot([v[1] for v in values], color="tab:orange")
    bottom.set_ylabel("Adam beta_1")
    bottom.set_xlabel("training step")
    fig.tight_layout()
    out = Path(__file__).resolve().parent / "img" / "one_cycle.png"
    out.parent.mkdir(exist_ok=True)
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main()
