"""Speed of utils.ngram: fit and mean_nll at orders 3-6 on the sonnets and the names.

Run: python -m bench.bench_ngram   (prints seconds; no assertions)
"""

import time


from coursetools.settings import DATA_DIR
from utils.ngram import KneserNey, corpus_mean_nll, name_streams


def main():
    text = (DATA_DIR / "shakespeare.txt").read_text().lower()
    train, held = text[:-10_000], text[-10_000:]
    names = sorted({n.strip() for n in (DATA_DIR / "dinos.txt").read_text().lower().splitlines()})
    print(f"sonnets: {len(train)} training chars, {len(held)} scored chars")
    for order in (3, 4, 5, 6):
        t0 = time.perf_counter()
        m = KneserNey(order, set(text), 0.75).fit([train])
        t1 = time.perf_counter()
        nll = m.mean_nll(held)
        t2 = time.perf_counter()
        print(f"  order {order}: fit {t1 - t0:.2f} s, mean_nll {t2 - t1:.3f} s ({nll:.4f} nats/char)")
    streams = name_streams(names)
    t0 = time.perf_counter()
    m = KneserNey(6, set("".join(streams)), 0.75).fit(streams, start=1)
    t1 = time.perf_counter()
    corpus_mean_nll(m, streams, start=1)
    t2 = time.perf_counter()
    print(f"names ({len(names)}): order-6 fit {t1 - t0:.2f} s, scoring all {t2 - t1:.3f} s")


if __name__ == "__main__":
    main()
