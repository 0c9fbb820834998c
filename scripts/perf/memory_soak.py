"""sentence-transformers' resident memory over many encode() calls: the
Python side of crates/smtl-embedding/examples/memory_soak.rs (same sentence
generator, same seed, 'varied' mode), for comparison.

    .venv/bin/python scripts/perf/memory_soak.py CALLS [THREADS]
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402


def rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    calls = int(sys.argv[1])
    torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count())
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    model = SentenceTransformer(os.path.join(root, "models/all-MiniLM-L6-v2"), device="cpu")
    state = 1

    def below(n):  # the Rust example's LCG
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (state >> 33) % n

    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "émoji🙂", "数据"]
    print(f"start: rss {rss_mib():.1f} MiB", flush=True)
    for call in range(calls):
        sentences = 1 + below(16)
        texts = [" ".join(words[below(len(words))] for _ in range(below(60))) for _ in range(sentences)]
        model.encode(texts, batch_size=32)
        if (call + 1) % max(calls // 10, 1) == 0 or call + 1 == calls:
            print(f"after {call + 1:>7} calls: rss {rss_mib():.1f} MiB", flush=True)


if __name__ == "__main__":
    main()
