"""The notebook's "Expected output" of the full training is what the reference solution prints."""

from training.expected_output import checkpoints, notebook_expected_output, reference_training_output

# Training is chaotic (SPEC §3): on another BLAS build the later checkpoints drift by a few
# hundredths. Up to this iteration every digit and every sampled name must match.
EXACT_UNTIL = 12000
LATE_TOLERANCE = 0.1


def test_committed_expected_output_matches_reference_training():
    committed = checkpoints(notebook_expected_output())
    fresh = checkpoints(reference_training_output())
    assert sorted(committed) == sorted(fresh) == list(range(0, 35000, 2000))
    for it in sorted(fresh):
        (c_loss, c_names), (f_loss, f_names) = committed[it], fresh[it]
        if it <= EXACT_UNTIL:
            assert (c_loss, c_names) == (f_loss, f_names), f"checkpoint {it} differs: rerun `make expected-output`"
        else:
            assert abs(c_loss - f_loss) < LATE_TOLERANCE, f"checkpoint {it}: {c_loss} vs {f_loss}"
            assert len(c_names) == len(f_names) == 7
    assert committed[0][0] == 23.087336 and committed[2000][0] == 27.884160
