#!/usr/bin/python3
"""Ours vs OpenBLAS sgemm, back to back, same threads, same shapes; prints medians and ratios.

Run with Debian's numpy (OpenBLAS): `apt-get install -y python3-numpy`, then
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/compare_openblas.py [--threads 2] [--repeats 3]
(OPENBLAS_* must be set before numpy loads, so the script only reads them; unset them in the command.)
Each shape is measured `repeats` times alternating OpenBLAS and ours; the table gives medians and
the median of the per-pair ratios, so load from other processes hits both sides alike.
Ours is timed twice: `quick gemm` (MatMul, its output rented from the buffer pool and given back
after each call, as the model does) and `quick gemm --into` (the same GEMM into one preallocated C,
which is what numpy's matmul(a, b, out=c) below is timed as). --shapes 0,1 picks rows of SHAPES.
"""
import argparse, os, re, statistics, subprocess, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--seconds", type=float, default=2.0, help="timing window per OpenBLAS measurement")
parser.add_argument("--shapes", default="", help="comma-separated indices into SHAPES (default: all)")
parser.add_argument("--no-attention", action="store_true")
parser.add_argument("--bench", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin/Release/net10.0/BridgeTower.Bench.dll"))
args = parser.parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
import numpy as np  # noqa: E402  (after OPENBLAS_NUM_THREADS)

SHAPES = [  # (M, N, K, label)
    (1024, 1024, 1024, "square 1024"),
    (2048, 2048, 2048, "square 2048"),
    (325, 2304, 768, "vision QKV 325x768·768x2304"),
    (325, 3072, 768, "vision FFN up 325x768·768x3072"),
    (325, 768, 3072, "vision FFN down 325x3072·3072x768"),
    (16, 768, 768, "text 16x768·768x768"),
    (442, 4096, 1024, "large FFN up 442x1024·1024x4096"),
]


def openblas(m, n, k):
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    c = np.empty((m, n), np.float32)
    np.matmul(a, b, out=c); np.matmul(a, b, out=c)
    times, start = [], time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < args.seconds and len(times) < 10000):
        t0 = time.perf_counter(); np.matmul(a, b, out=c); times.append(time.perf_counter() - t0)
    return 2.0 * m * n * k / statistics.median(times) / 1e9


def ours(what, *dims, output=None, extra=()):
    cmd = ["dotnet", args.bench, "quick", what, *map(str, dims), "--threads", str(args.threads), *extra]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed with exit code {run.returncode}:\n{run.stdout}\n{run.stderr}")
    if output is not None:
        output.append(run.stdout)
    return float(re.findall(r"GFLOP/s: ([0-9.]+)", run.stdout)[-1])


print(f"# OpenBLAS via numpy {np.__version__} ({np.__file__}), {args.threads} threads, "
      f"{args.repeats} alternating repeats, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
peak_logs = []
peaks = [ours("peak", output=peak_logs) for _ in range(args.repeats)]
peak = statistics.median(peaks)
for width in ("256", "512"):
    found = [float(x) for log in peak_logs for x in re.findall(rf"peak {width}-bit: ([0-9.]+)", log)]
    if found:
        print(f"quick peak {width}-bit (median of {len(found)}): {statistics.median(found):.1f} GFLOP/s")
print(f"quick peak used for '% of peak' (the GEMM kernel's width): {peak:.1f} GFLOP/s")
print(f"quick kernel (GEMM micro-kernel alone on cache-resident panels, 1 thread): {ours('kernel'):.1f} GFLOP/s")
print("ours gemm = MatMul (B packed per call, output rented from the pool and given back per call); ours into = the same GEMM into one")
print("preallocated C, as numpy's matmul(a, b, out=c) is timed here; ratios are medians of per-repeat ratios.")
print(f"| shape | OpenBLAS GFLOP/s | ours gemm GFLOP/s | ours/OpenBLAS | ours % of peak | ours into GFLOP/s | into/OpenBLAS | into % of peak | ours prepacked linear GFLOP/s |")
print(f"|---|---|---|---|---|---|---|---|---|")
for m, n, k, label in [SHAPES[int(i)] for i in args.shapes.split(",")] if args.shapes else SHAPES:
    ob, us, into, ratios, into_ratios = [], [], [], [], []
    for _ in range(args.repeats):
        o = openblas(m, n, k); u = ours("gemm", m, n, k); i = ours("gemm", m, n, k, extra=("--into",))
        ob.append(o); us.append(u); into.append(i); ratios.append(u / o); into_ratios.append(i / o)
    lin = ours("linear", m, n, k)
    print(f"| {label} | {statistics.median(ob):.1f} | {statistics.median(us):.1f} | {statistics.median(ratios):.2f}x "
          f"| {100 * statistics.median(us) / peak:.0f}% | {statistics.median(into):.1f} | {statistics.median(into_ratios):.2f}x "
          f"| {100 * statistics.median(into) / peak:.0f}% | {lin:.1f} |", flush=True)
for b, h, tq, tk, d, label in [] if args.no_attention else [(1, 12, 325, 325, 64, "vision self-attention"), (1, 12, 40, 40, 64, "text self-attention"),
                               (1, 12, 16, 325, 64, "cross text->image"), (1, 12, 325, 16, 64, "cross image->text"),
                               (1, 16, 442, 442, 64, "large self-attention")]:
    print(f"attention {label} B={b} H={h} Tq={tq} Tk={tk} D={d}: {ours('attention', b, h, tq, tk, d):.1f} GFLOP/s", flush=True)
