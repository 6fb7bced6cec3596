"""Bench program for the python workload: object churn that, under PYTHONMALLOC=malloc, is all malloc and free."""
import sys


def main(rounds):
    keep = {}
    total = 0
    for r in range(rounds):
        # A batch of short-lived records, as a parser or a web handler makes them.
        batch = []
        for i in range(2000):
            key = "k%d:%d" % (r, i)
            rec = {"id": i, "name": key * (1 + i % 7), "tags": [key, str(i), (r, i)], "score": i * 0.5}
            batch.append(rec)
        batch.sort(key=lambda rec: rec["name"][-3:])
        # A few survive in a long-lived index; old entries expire.
        for rec in batch[::50]:
            keep[rec["name"][:20]] = rec
        if len(keep) > 5000:
            for k in list(keep)[:2500]:
                del keep[k]
        total += sum(len(rec["tags"]) for rec in batch)
        text = "".join(rec["name"] for rec in batch[:200])
        total += len(text.split(":"))
    print("objects seen: %d" % total)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
