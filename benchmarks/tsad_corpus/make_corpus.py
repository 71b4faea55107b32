#!/usr/bin/env python3
"""Deterministic GutenTAG corpus: ~120 univariate series, one labelled anomaly each.

GutenTAG (``pip install timeeval-gutentag==1.5.0``) pins scipy<1.15, so it lives in a venv of
its own. Steps (run from any directory; the config and parquet sit beside this file):
  1. config  (GutenTAG venv):  python make_corpus.py config   -> gutentag_corpus.yaml
  2. gen     (GutenTAG venv):  python make_corpus.py gen      -> $GUTENTAG_OUT/<name>/test.csv
                                                                (default: <tmp>/gutentag_out)
  3. pack    (obskit venv)  :  python make_corpus.py pack     -> gutentag_corpus.parquet
Each step is deterministic (config seed and GutenTAG seed below): rerunning all three gives a
byte-identical parquet.

GutenTAG facts this relies on (timeeval-gutentag 1.5.0):
  * sine/square/sawtooth: frequency is in Hz at a fixed 100 rows/s -> period = 100/frequency rows
    (so frequency = 100/P, NOT 1/P).
  * ecg: frequency = beats per 100 rows; neurokit heart_rate = int(frequency*60) bpm
    -> beat ~= 6000/HR rows (measured: 1-2 % longer because of int beat count + resampling).
    The "simple" ECG spans ~[-3, 7] x amplitude, i.e. half-range ~5 x amplitude.
  * base noise std = variance * amplitude (cbf: variance is the absolute std, generated inside).
  * variance anomaly (non-cbf): noise std inside the window = `variance` (absolute, NOT x amplitude);
    cbf: window is regenerated with std = `variance`.
  * random-mode-jump is only compatible with mode-correlation (all other kinds are no-ops on it
    but would still be labelled), so rmj series carry mode-correlation anomalies.
"""
import math
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
YAML_PATH = os.path.join(HERE, "gutentag_corpus.yaml")
PARQUET_PATH = os.path.join(HERE, "gutentag_corpus.parquet")
GEN_DIR = os.environ.get("GUTENTAG_OUT", os.path.join(tempfile.gettempdir(), "gutentag_out"))
CONFIG_SEED = 20240607   # python RNG used to draw the config
GT_SEED = 42             # GutenTAG --seed
PER_KIND = 12
N_RMJ = 4

KINDS = ["extremum", "extremum-local", "mean", "platform", "variance", "trend",
         "amplitude", "frequency", "pattern", "pattern-shift"]
APERIODIC_OK = {"extremum", "extremum-local", "mean", "platform", "variance", "trend", "amplitude"}
PERIODIC_BASES = ["sine", "square", "sawtooth", "ecg"]
GT_KIND = {"sine": "sine", "square": "square", "sawtooth": "sawtooth", "ecg": "ecg",
           "rw": "random-walk", "cbf": "cylinder-bell-funnel", "rmj": "random-mode-jump"}
NOISE = {"low": (0.01, 0.05), "med": (0.05, 0.15), "high": (0.15, 0.30)}  # std / half-range


def r6(x):
    return float(f"{x:.6g}")


def build_config():
    from gutenTAG.utils.compatibility import Compatibility

    rng = random.Random(CONFIG_SEED)
    slots = []  # (kind, base)
    ap_i = per_i = 0
    for kind in KINDS:
        for j in range(PER_KIND):
            if kind in APERIODIC_OK and j < 3:
                base = ["rw", "cbf"][ap_i % 2]
                ap_i += 1
            else:
                base = PERIODIC_BASES[per_i % 4]
                per_i += 1
            slots.append((kind, base))
    slots += [("mode-correlation", "rmj")] * N_RMJ

    series, counters = [], {}
    for kind, base in slots:
        gt_kind = "extremum" if kind.startswith("extremum") else kind
        assert Compatibility.check(gt_kind, GT_KIND[base]), (kind, base)
        L = rng.randint(6000, 12000)
        H = r6(rng.uniform(0.5, 3.0))                 # signal half-range
        offset = r6(rng.uniform(-2.0, 2.0))
        level = rng.choice(list(NOISE))
        r = rng.uniform(*NOISE[level])                # relative noise std
        P = round(math.exp(rng.uniform(math.log(40), math.log(300))))  # log-uniform 40..300
        bo = {"kind": GT_KIND[base]}
        if base in ("sine", "square", "sawtooth"):
            bo.update(frequency=r6(100.0 / P), amplitude=H, variance=r6(r))
            if base == "square":
                bo["duty"] = r6(rng.uniform(0.3, 0.7))
            if base == "sawtooth":
                bo["width"] = r6(rng.choice([rng.uniform(0.0, 0.3), rng.uniform(0.7, 1.0)]))
            amp_cfg, noise_abs = H, r * H
        elif base == "ecg":
            hr = max(20, min(150, round(6000 / P)))
            f = r6((hr + 0.25) / 60)
            assert int(f / 100 * 100 * 60) == hr
            P = round(6000 / hr)
            amp_cfg = r6(H / 5)
            bo.update(frequency=f, amplitude=amp_cfg, variance=r6(r * H / amp_cfg),
                      **{"ecg-sim-method": "simple"})
            noise_abs = r * H
        elif base == "rw":
            bo.update(amplitude=H, variance=r6(r), smoothing=r6(rng.uniform(0.005, 0.02)))
            amp_cfg, noise_abs = H, r * H
        elif base == "cbf":
            bo.update(amplitude=H, variance=r6(r * H), **{
                "avg-pattern-length": P,
                "variance-pattern-length": r6(0.1 * P),
                "variance-amplitude": r6(0.2 * H)})
            amp_cfg, noise_abs = H, r * H
        elif base == "rmj":
            P = rng.randint(150, 600)                  # mode step length
            bo.update(frequency=L // P, **{"channel-diff": 0.0, "channel-offset": H,
                                           "random-seed": rng.randint(0, 10**6)},
                      variance=r6(r * H))              # noise std = variance * amplitude(=1)
            amp_cfg, noise_abs = 1.0, r * H
        if base != "rmj":
            bo["offset"] = offset

        # ---- anomaly -------------------------------------------------------------
        scale = P if base != "rw" else round(math.exp(rng.uniform(math.log(40), math.log(300))))
        alen = 1 if kind.startswith("extremum") else max(2, round(rng.uniform(0.5, 2.0) * scale))
        ak = {"kind": gt_kind}
        if kind == "extremum":
            ak.update(min=rng.random() < 0.5, local=False)
        elif kind == "extremum-local":
            ak.update(min=rng.random() < 0.5, local=True, context_window=int(scale))
        elif kind == "mean":
            ak.update(offset=r6(rng.choice([-1, 1]) * rng.uniform(0.2, 1.0) * H))
        elif kind == "platform":
            ak.update(value=r6(rng.uniform(-0.8, 0.8) * H if base != "ecg" else rng.uniform(-0.3, 0.8) * H))
        elif kind == "variance":
            ak.update(variance=r6(noise_abs * rng.uniform(2.5, 5.0) + 0.03 * H))
        elif kind == "trend":
            while int(alen * 0.2) + int(alen * 0.8) != alen:  # GutenTAG trend shape bug
                alen += 1
            rise = rng.choice([-1, 1]) * rng.uniform(0.3, 1.5) * H
            ak.update(oscillation={"kind": "polynomial", "polynomial": [0, r6(rise / alen)]})
        elif kind == "amplitude":
            fac = rng.uniform(1.6, 3.0) if rng.random() < 0.6 else rng.uniform(0.2, 0.5)
            ak.update(amplitude_factor=r6(fac))
        elif kind == "frequency":
            fac = rng.uniform(1.5, 2.5) if rng.random() < 0.6 else rng.uniform(0.4, 0.7)
            ak.update(frequency_factor=r6(fac))
        elif kind == "pattern":
            if base == "sine":
                ak.update(sinusoid_k=r6(rng.uniform(5, 20)))
            elif base == "square":
                d = bo["duty"]
                ak.update(square_duty=r6(d - 0.25 if d > 0.5 else d + 0.25))
            elif base == "sawtooth":
                w = bo["width"]
                ak.update(sawtooth_width=r6(1.0 - w))
            # ecg: pattern = time-reversed beats (no parameter)
        elif kind == "pattern-shift":
            shift = max(2, round(rng.uniform(0.08, 0.15) * P))
            tw = shift + max(2, round(0.05 * P))
            alen = max(alen, 2 * tw + max(10, P // 2))
            ak.update(shift_by=shift * rng.choice([-1, 1]), transition_window=tw)
        # position: start strictly after first 20 % (+ one period margin), aligned to
        # GutenTAG's period grid for the period-start kinds
        lo = math.ceil(0.2 * L) + scale
        hi = L - alen - scale
        start = rng.randint(lo, hi)
        if kind in ("frequency", "pattern", "pattern-shift") and base != "rmj":
            ps = L // max(1, int(L / 100 * bo["frequency"]))
            start = max(lo + (-lo) % ps, (start // ps) * ps)
        assert start >= 0.2 * L and start + alen <= L
        key = f"{base}-p{P if base != 'rw' else 0}-{kind}"
        idx = counters.get(key, 0)
        counters[key] = idx + 1
        series.append({
            "name": f"{key}-{idx}",
            "length": L,
            "semi-supervised": False, "supervised": False,
            "base-oscillations": [bo],
            "anomalies": [{"exact-position": start, "length": alen, "channel": 0, "kinds": [ak]}],
        })
    return {"timeseries": series}


def cmd_config():
    import yaml
    cfg = build_config()
    with open(YAML_PATH, "w") as fh:
        fh.write(f"# GutenTAG 1.5.0 config generated by make_corpus.py (config seed {CONFIG_SEED}); "
                 f"generate with --seed {GT_SEED}\n")
        yaml.safe_dump(cfg, fh, sort_keys=False)
    print(len(cfg["timeseries"]), "series ->", YAML_PATH)


def cmd_gen():
    os.makedirs(GEN_DIR, exist_ok=True)
    subprocess.run([sys.executable, "-m", "gutenTAG", "--config-yaml", YAML_PATH,
                    "--output-dir", GEN_DIR, "--seed", str(GT_SEED), "--n_jobs", "2"],
                   check=True, stdout=subprocess.DEVNULL)


def cmd_pack():
    import polars as pl
    import yaml
    with open(YAML_PATH) as fh:
        names = [s["name"] for s in yaml.safe_load(fh)["timeseries"]]
    frames = []
    for n in names:
        df = pl.read_csv(os.path.join(GEN_DIR, n, "test.csv"))
        frames.append(pl.DataFrame({
            "series": pl.Series([n] * df.height, dtype=pl.String),
            "row": df["timestamp"].cast(pl.Int32),
            "value": df["value-0"].cast(pl.Float64),
            "is_anomaly": df["is_anomaly"].cast(pl.Boolean),
        }))
    out = pl.concat(frames)
    v = out["value"].to_numpy()
    import numpy as np
    with np.errstate(divide="ignore"):
        mag = np.where(v == 0, 0, np.floor(np.log10(np.abs(v))))
    fac = 10.0 ** (5 - mag)
    out = out.with_columns(pl.Series("value", np.round(v * fac) / fac))  # 6 significant digits
    out = out.rechunk()
    # one row group + one big page per column: lets zstd see the whole column (~4.2 MB vs ~5.9 MB default)
    out.write_parquet(PARQUET_PATH, compression="zstd", compression_level=22, statistics=False,
                      row_group_size=out.height, data_page_size=1 << 26)
    print(out.height, "rows,", out["is_anomaly"].sum(), "anomalous ->", PARQUET_PATH)


if __name__ == "__main__":
    step = sys.argv[1] if len(sys.argv) > 1 else "all"
    {"config": cmd_config, "gen": cmd_gen, "pack": cmd_pack}[step]()
