"""The speed rows issue 11 must keep, without the rest of `make bench`: cold one-shot `askbot ask`,
warm question→answer at ≈ 10k chunks, and full-build throughput against raw encode, each beside
its floor from the same run (`python benchmarks/bench_answers.py`; the same rows are in `make bench`)."""

from __future__ import annotations

import bench
from common import DATA, SEED_DOCS, Table, machine, machine_text


def main() -> None:
    print(machine_text(machine()), flush=True)
    big_docs = bench.text_corpus(DATA / "corpus-10k", bench.CORPUS_DOCS)
    big_index, seed_index = DATA / "index-10k", DATA / "index-seed"
    bench.ensure_index(SEED_DOCS, seed_index)
    bench.ensure_index(big_docs, big_index)
    table = Table()
    bench.cold(table, seed_index, big_docs, big_index)
    bench.warm(table, big_docs, big_index)
    bench.build_throughput(table, DATA / "work")
    print("\n" + table.render())


if __name__ == "__main__":
    main()
