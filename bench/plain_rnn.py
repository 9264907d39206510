"""The plain textbook engine: the benchmark's baseline, kept here only (never shipped).

A straightforward numpy transcription of docs/reference.md §2 and §3, as a first
implementation would be written: one-hot input vectors, one matrix product per
term of every equation, a fresh array per operation. ``bench_training.py``
times it next to the course's ``utils`` (plain numpy too, reading a column of
``Wax`` instead of multiplying by a one-hot vector) and compares the losses
iteration by iteration.
"""

import numpy as np


def softmax(x):
    e_x = np.exp(x - np.max(x))
    return e_x / e_x.sum(axis=0)


def smooth(loss, cur_loss):
    return loss * 0.999 + cur_loss * 0.001


def get_initial_loss(vocab_size, seq_length):
    return -np.log(1.0 / vocab_size) * seq_length


def initialize_parameters(n_a, n_x, n_y):
    np.random.seed(1)
    Wax = np.random.randn(n_a, n_x) * 0.01
    Waa = np.random.randn(n_a, n_a) * 0.01
    Wya = np.random.randn(n_y, n_a) * 0.01
    return {"Wax": Wax, "Waa": Waa, "Wya": Wya, "b": np.zeros((n_a, 1)), "by": np.zeros((n_y, 1))}


def rnn_step_forward(parameters, a_prev, x):
    a_next = np.tanh(np.dot(parameters["Wax"], x) + np.dot(parameters["Waa"], a_prev) + parameters["b"])
    p_t = softmax(np.dot(parameters["Wya"], a_next) + parameters["by"])
    return a_next, p_t


def rnn_forward(X, Y, a0, parameters, vocab_size=27):
    x, a, y_hat = {}, {}, {}
    a[-1] = np.copy(a0)
    loss = 0
    for t in range(len(X)):
        x[t] = np.zeros((vocab_size, 1))
        if X[t] is not None:
            x[t][X[t]] = 1
        a[t], y_hat[t] = rnn_step_forward(parameters, a[t - 1], x[t])
        loss -= np.log(y_hat[t][Y[t], 0])
    return loss, (y_hat, a, x)


def rnn_step_backward(dy, gradients, parameters, x, a, a_prev):
    gradients["dWya"] += np.dot(dy, a.T)
    gradients["dby"] += dy
    da = np.dot(parameters["Wya"].T, dy) + gradients["da_next"]
    daraw = (1 - a * a) * da
    gradients["db"] += daraw
    gradients["dWax"] += np.dot(daraw, x.T)
    gradients["dWaa"] += np.dot(daraw, a_prev.T)
    gradients["da_next"] = np.dot(parameters["Waa"].T, daraw)
    return gradients


def rnn_backward(X, Y, parameters, cache):
    y_hat, a, x = cache
    gradients = {"d" + k: np.zeros_like(parameters[k]) for k in ("Wax", "Waa", "Wya", "b", "by")}
    gradients["da_next"] = np.zeros_like(a[0])
    for t in reversed(range(len(X))):
        dy = np.copy(y_hat[t])
        dy[Y[t]] -= 1
        gradients = rnn_step_backward(dy, gradients, parameters, x[t], a[t], a[t - 1])
    return gradients, a


def update_parameters(parameters, gradients, lr):
    for k in ("Wax", "Waa", "Wya", "b", "by"):
        parameters[k] += -lr * gradients["d" + k]
    return parameters


def clip(gradients, maxValue):
    for k in ("dWax", "dWaa", "dWya", "db", "dby"):
        np.clip(gradients[k], -maxValue, maxValue, out=gradients[k])
    return gradients


def sample(parameters, char_to_ix, seed):
    Waa, Wax, Wya, by, b = (parameters[k] for k in ("Waa", "Wax", "Wya", "by", "b"))
    vocab_size, n_a = by.shape[0], Waa.shape[1]
    x, a_prev = np.zeros((vocab_size, 1)), np.zeros((n_a, 1))
    indices, idx, counter, newline = [], -1, 0, char_to_ix["\n"]
    while idx != newline and counter != 50:
        a = np.tanh(np.dot(Wax, x) + np.dot(Waa, a_prev) + b)
        y = softmax(np.dot(Wya, a) + by)
        np.random.seed(counter + seed)
        idx = np.random.choice(range(vocab_size), p=y.ravel())
        indices.append(idx)
        x = np.zeros((vocab_size, 1))
        x[idx] = 1
        a_prev = a
        seed += 1
        counter += 1
    if counter == 50:
        indices.append(newline)
    return indices


def print_sample(sample_ix, ix_to_char):
    txt = "".join(ix_to_char[ix] for ix in sample_ix)
    print(txt[0].upper() + txt[1:], end="")


def optimize(X, Y, a_prev, parameters, learning_rate=0.01):
    loss, cache = rnn_forward(X, Y, a_prev, parameters)
    gradients, a = rnn_backward(X, Y, parameters, cache)
    gradients = clip(gradients, 5)
    parameters = update_parameters(parameters, gradients, learning_rate)
    return loss, gradients, a[len(X) - 1]


def model(data, ix_to_char, char_to_ix, num_iterations=35000, n_a=50, dino_names=7, vocab_size=27,
          verbose=True, loss_history=None):
    parameters = initialize_parameters(n_a, vocab_size, vocab_size)
    loss = get_initial_loss(vocab_size, dino_names)
    examples = [x.strip() for x in data.splitlines()]
    np.random.seed(0)
    np.random.shuffle(examples)
    a_prev = np.zeros((n_a, 1))
    for j in range(num_iterations):
        X = [None] + [char_to_ix[c] for c in examples[j % len(examples)]]
        Y = X[1:] + [char_to_ix["\n"]]
        curr_loss, gradients, a_prev = optimize(X, Y, a_prev, parameters, learning_rate=0.01)
        loss = smooth(loss, curr_loss)
        if loss_history is not None:
            loss_history.append(loss)
        if j % 2000 == 0 and verbose:
            print("Iteration: %d, Loss: %f" % (j, loss) + "\n")
            for seed in range(dino_names):
                print_sample(sample(parameters, char_to_ix, seed), ix_to_char)
            print("\n")
    return parameters
