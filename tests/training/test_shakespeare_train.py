"""The shipped Shakespeare model, its training record, and the training script.

Re-scores the shipped model on the test part (about 10 s on 2 CPU cores) and
re-computes the Kneser-Ney baseline the issue asks the model to beat.
"""

import json
import math

import pytest

from training import shakespeare_train as T
from coursetools.settings import MODELS_DIR
from utils import shakespeare as S

MODEL = MODELS_DIR / "shakespeare_lstm.keras"
RECORD = MODELS_DIR / "shakespeare_lstm.json"


@pytest.fixture(scope="module")
def record():
    assert RECORD.is_file(), f"training record missing: {RECORD}"
    return json.loads(RECORD.read_text())


@pytest.fixture(scope="module")
def parts():
    return T.corpus_parts()


def test_record_describes_the_split_and_the_training(record, parts):
    text, train, dev, test = parts
    split = record["split"]
    assert split["chars"] == len(text)
    assert split["train"] == [0, len(train)]
    assert split["test"] == [len(text) - len(test), len(text)]
    assert record["epochs_run"] == len(record["history"]) >= record["best_epoch"] >= 1
    dev_by_epoch = [row["dev_nll"] for row in record["history"]]
    assert min(dev_by_epoch) == pytest.approx(record["dev_nll"], abs=2e-3)
    assert dev_by_epoch.index(min(dev_by_epoch)) + 1 == record["best_epoch"]
    assert record["train_seconds"] >= sum(row["seconds"] for row in record["history"])
    for key in ("units", "embed_dim", "dropout", "learning_rate", "batch_size", "stride", "seed"):
        assert key in record["settings"]
    assert record["environment"]["tensorflow"] and record["environment"]["keras"].startswith("3")


def test_shipped_model_is_small_and_matches_the_recorded_settings(record):
    assert MODEL.stat().st_size < 8 * 2**20
    model = S.load_model(MODEL)
    assert model.count_params() == record["parameters"]
    widths = [layer.units for layer in model.layers if hasattr(layer, "units")][:-1]
    assert widths == record["settings"]["units"]
    assert model.output_shape == (None, None, S.VOCAB_SIZE)


@pytest.mark.slow
def test_shipped_model_reproduces_its_recorded_test_nll(record, parts):
    _, train, dev, test = parts
    model = S.load_model(MODEL)
    text, start = T.score_parts(train, dev, test)["test"]
    assert len(text) - start == len(test)
    nll = S.mean_nll(model, text, start=start)
    assert nll == pytest.approx(record["test_nll"], abs=1e-3)
    assert nll < math.log(S.VOCAB_SIZE)


def test_recorded_baselines_are_reproduced_and_the_model_beats_kn4(record, parts):
    from utils import ngram

    _, train, dev, test = parts
    baselines = record["baselines"]
    assert {"unigram", "kn3", "kn4", "kn5", "kn6"} <= set(baselines)
    kn4 = baselines["kn4"]
    model = ngram.KneserNey(4, S.VOCAB, discount=kn4["discount"]).fit([train])
    text, start = T.score_parts(train, dev, test)["test"]
    assert model.mean_nll(text, start=start) == pytest.approx(kn4["test_nll"], abs=1e-9)
    # the bar: beat Kneser-Ney 4
    assert record["test_nll"] < kn4["test_nll"]
    assert baselines["unigram"]["test_nll"] > baselines["kn3"]["test_nll"] > kn4["test_nll"]


# Keras 3.15 itself calls np.array(x, copy=False) on TF tensors when saving (numpy 2 notice).
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
@pytest.mark.slow  # Keras training
def test_training_script_end_to_end_on_a_tiny_model(tmp_path, capsys):
    out = tmp_path / "tiny.keras"
    rc = T.main(["--out", str(out), "--units", "8", "--embed-dim", "4", "--max-epochs", "2",
                 "--stride", "400", "--no-baselines"])
    assert rc == 0 and out.is_file()
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["settings"]["units"] == [8]
    assert 1 <= rec["epochs_run"] <= 2 and len(rec["history"]) == rec["epochs_run"]
    assert rec["train_windows"] == len(range(0, 76364 - 40, 400))
    assert rec["test_nll"] < math.log(S.VOCAB_SIZE) + 0.5
    # the saved model carries no optimizer state but can be trained right away
    model = S.load_model(out)
    assert model.optimizer.learning_rate is not None
    assert "best epoch" in capsys.readouterr().out


def test_training_script_rejects_a_bad_output_name(tmp_path):
    with pytest.raises(SystemExit):
        T.main(["--out", str(tmp_path / "model.h5"), "--no-baselines"])


def test_recorded_mixture_is_chosen_on_dev(record):
    mix = record["mixture"]
    kn = record["baselines"][f"kn{mix['kn_order']}"]
    assert 0.0 <= mix["lstm_weight"] <= 1.0
    # the weight grid includes 0 (pure KN) and 1 (pure LSTM): dev can only be better
    assert mix["dev_nll"] <= min(kn["dev_nll"], record["dev_nll"]) + 1e-9
