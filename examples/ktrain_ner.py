"""ktrain's NER recipe (its BiLSTM tagger on transformer features), run on easytx by changing
its two imports (docs/migrating-from-ktrain.md, docs/ner.md).

    python examples/ktrain_ner.py                     # offline: tiny generated model and data, seconds
    python examples/ktrain_ner.py --conll eng.train --model <hub name or folder>
                                                      # ktrain's test_ner: CoNLL-2003, one epoch

Without arguments the script writes generated CoNLL sentences and a tiny random model, and trains
10 epochs (a random tiny model needs them); with ``--conll`` it is ktrain's own recipe,
``fit(0.01, 1)`` (all-MiniLM-L6-v2 on CoNLL-2003: entity F1 0.86, see docs/ner.md).
Everything below the imports is ktrain's API, with ktrain's return values.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import easytx.ktrain as ktrain  # was: import ktrain
from easytx.ktrain import text as txt  # was: from ktrain import text as txt
from easytx.testing import entity_dataset, make_tiny_model, write_conll

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--conll", help="a CoNLL-2003 training file (default: generated sentences)")
parser.add_argument("--model", help="transformer hub name or folder (default: a tiny generated one)")
args = parser.parse_args()

work = tempfile.mkdtemp(prefix="easytx_ktrain_ner_")
TDATA = args.conll or str(write_conll(os.path.join(work, "train.txt"), *entity_dataset(400, seed=0)))
MODEL = args.model or str(make_tiny_model(os.path.join(work, "tiny-bert")))
epochs = 1 if args.conll else 10
SENT = "There is a man named John Smith." if args.conll else "Anna met Kofi Annan in Oslo on Monday ."

# ---- the ktrain script ------------------------------------------------------------------------
trn, val, preproc = txt.entities_from_txt(TDATA)
model = txt.sequence_tagger("bilstm-transformer", preproc, transformer_model=MODEL)
learner = ktrain.get_learner(model, train_data=trn, val_data=val, batch_size=128 if args.conll else 16)
learner.fit(0.01, epochs)
print(f"entity F1 {learner.validate():.3f}")
learner.view_top_losses(n=1)
predictor = ktrain.get_predictor(learner.model, preproc)
print(predictor.predict(SENT))
predictor.save(os.path.join(work, "predictor"))  # a folder of JSON + safetensors, no pickle
predictor = ktrain.load_predictor(os.path.join(work, "predictor"))
print("saved and reloaded:", predictor.predict(SENT, merge_tokens=True, return_offsets=True))
