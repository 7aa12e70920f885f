#!/usr/bin/python3
"""Export the PyTorch reference (shared/reference/pangu_ref.py) to ONNX for
onnxruntime, and compare onnxruntime's output with a reference output.

  onnx_export.py export --model M.h5 --out DIR [--state X.nc] [--opset 17]
                        [--reference] [--external-data] [--reuse] [--threads N]
  onnx_export.py compare DIR [--ref torch|Y.nc] [--fail-above TOL]

export writes into DIR:
  graph/model.onnx      the reference's forward, upper (5, L, H, W) and surface
                        (4, H, W) float32 in physical units -> the same out;
                        inputs "input", "input_surface", outputs "output",
                        "output_surface" (the names of the published Pangu ONNX
                        files); constants folded.  A graph whose constants pass
                        protobuf's 2 GiB limit is written by torch with its
                        initializers as external data files beside it (more
                        files in DIR/graph); then io.json says "external_data": true.
  input_upper.bin, input_surface.bin    the input state, raw float32 (C order)
  io.json               names, shapes and files of inputs and outputs, the
                        model's per-variable std (for compare), a fingerprint of
                        what the export was made from (for --reuse)
  torch_upper.bin, torch_surface.bin    with --reference: the PyTorch forward's
                        output on the same input (one forward under no_grad)
The input state is --state (a NetCDF state, pangu_ref.py state) or, without
it, pangu_ref.py's random state with seed 1.

compare reads DIR/onnx_upper.bin and DIR/onnx_surface.bin (tests/onnx_run.mjs
writes them) and prints max |onnx - ref| / std per group (std: the model's
normalisation std of each variable and level) and a final machine-readable
line "MAXDIFF x" (the larger of the two).  --ref torch (default) compares with
DIR/torch_*.bin; --ref Y.nc with a state file (e.g. pangu step's output).

No op of the reference needs a workaround with torch 1.13 at opset 13 to 17
(checked against onnxruntime 1.30 at 32 x 64 and 181 x 384): torch.roll is
exported as Slice + Concat, the Earth-specific bias look-up as a Gather on
constants that constant folding evaluates into a (types, heads, N, N) table
per block, the shifted-window masks as constants, the window partition as
Reshape + Transpose, exact GELU as Erf, LayerNorm as LayerNormalization
(opset 17).  The folded tables and masks are what make the graph large:
0.4 GB at 181 x 384, 2.06 GiB at 721 x 1440 (over protobuf's 2 GiB limit for
one file; torch 1.13 then writes the initializers as ONNX external data, which
--external-data allows; not seen to finish: two tries on a shared 2-core
machine were stopped after 17 and 24 minutes at up to 10 GB, before any
file was written).  The exporter's two benign warnings about constant
folding and prim::Constant shape inference are silenced.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REF_DIR = os.environ.get("PANGU_REF_DIR", os.path.join(HERE, "..", "..", "shared", "reference"))
PROTOBUF_LIMIT = 2 ** 31


def import_ref():
    sys.path.insert(0, os.path.abspath(REF_DIR))
    import pangu_ref  # noqa: E402
    return pangu_ref


def graph_bytes(m):
    """Bytes of the exported graph's constants, before exporting: the model's
    tensors, except that constant folding replaces each block's bias table
    by its gathered (types, heads, N, N) form, and each shifted block adds
    its (types, longitude windows, N, N) mask.  The .onnx file adds the
    graph itself (0.5 MB at 32 x 64, 0.1% at 181 x 384)."""
    total = 0
    for name, t in m.state_dict().items():
        if not name.endswith("earth_specific_bias"):
            total += 4 * t.numel()
    for layer in m.layers:
        for b in layer.blocks:
            T, h = b.attn.earth_specific_bias.shape[1:]
            N = int(np.prod(b.window))
            total += 4 * T * h * N * N
            if b.mask is not None:
                total += 4 * b.mask.numel()
    return total


def fingerprint(a):
    """What an export depends on: the model's tensors and attributes (not the
    HDF5 file's bytes: they hold creation times), the input state, this
    script, the reference script, torch's version and the options (but
    --reference: a reused export needs only its torch_*.bin files)."""
    import h5py
    import torch
    h = hashlib.sha256()
    with h5py.File(a.model, "r") as f:
        for k in sorted(f.attrs):
            h.update(k.encode() + repr(np.asarray(f.attrs[k]).tolist()).encode())
        for k in sorted(f):
            d = np.ascontiguousarray(f[k][()])
            h.update(k.encode() + str(d.dtype).encode() + repr(d.shape).encode())
            h.update(d.tobytes())
    for path in [a.state, __file__, os.path.join(REF_DIR, "pangu_ref.py")]:
        if path:
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 24), b""):
                    h.update(chunk)
    h.update(f"{torch.__version__} {a.opset} {a.external_data}".encode())
    return h.hexdigest()


def export(a):
    import torch
    for msg in ("Constant folding - Only steps=1", "The shape inference of prim::Constant"):
        warnings.filterwarnings("ignore", message=msg)
    P = import_ref()
    torch.set_grad_enabled(False)
    torch.set_num_threads(a.threads)
    m = P.load_h5(a.model)
    c = m.cfg
    est = graph_bytes(m)
    print(f"onnx export: torch {torch.__version__}, {c.H} x {c.W} grid, graph constants about {est / 2**20:.0f} MB",
          flush=True)
    if est > PROTOBUF_LIMIT * 0.98 and not a.external_data:
        print(f"ONNX_SKIPPED graph constants {est / 2**30:.2f} GiB, past protobuf's 2 GiB limit for one .onnx file",
              flush=True)
        return 4
    key = fingerprint(a)
    if a.reuse:
        try:
            with open(os.path.join(a.out, "io.json")) as f:
                old = json.load(f)
            files = [old["model"]] + [t["file"] for t in old["inputs"]] \
                + (["torch_upper.bin", "torch_surface.bin"] if a.reference else [])
            if old.get("fingerprint") == key and all(os.path.exists(os.path.join(a.out, x)) for x in files):
                print(f"onnx export: reusing {a.out} (same model, state and exporter)", flush=True)
                return 0
        except (OSError, ValueError, KeyError):
            pass
    os.makedirs(a.out, exist_ok=True)
    for f in ("io.json", "torch_upper.bin", "torch_surface.bin", "onnx_upper.bin", "onnx_surface.bin"):
        if os.path.exists(os.path.join(a.out, f)):
            os.remove(os.path.join(a.out, f))
    if a.state:
        up, sf, _ = P.read_state(a.state)
    else:
        up, sf = P.random_state(m, 1)
    up = np.ascontiguousarray(up, np.float32)
    sf = np.ascontiguousarray(sf, np.float32)
    up.tofile(os.path.join(a.out, "input_upper.bin"))
    sf.tofile(os.path.join(a.out, "input_surface.bin"))
    up_t, sf_t = torch.from_numpy(up), torch.from_numpy(sf)

    # the graph and its external data files (named by tensor) in a folder of their own
    gdir = os.path.join(a.out, "graph")
    shutil.rmtree(gdir, ignore_errors=True)
    os.makedirs(gdir)
    onnx_path = os.path.join(gdir, "model.onnx")
    t0 = time.perf_counter()
    torch.onnx.export(m, (up_t, sf_t), onnx_path, opset_version=a.opset,
                      input_names=["input", "input_surface"],
                      output_names=["output", "output_surface"],
                      do_constant_folding=True)
    t1 = time.perf_counter()
    files = os.listdir(gdir)
    total = sum(os.path.getsize(os.path.join(gdir, f)) for f in files)
    external = len(files) > 1
    print(f"onnx export: opset {a.opset}, {t1 - t0:.1f} s, model.onnx {os.path.getsize(onnx_path) / 2**20:.0f} MB"
          + (f", {len(files) - 1} external data files, {total / 2**20:.0f} MB in all" if external else ""),
          flush=True)
    io = {
        "model": "graph/model.onnx",
        "grid": [int(c.H), int(c.W)],
        "opset": a.opset,
        "external_data": external,
        "bytes": total,
        "inputs": [{"name": "input", "file": "input_upper.bin", "shape": list(up.shape)},
                   {"name": "input_surface", "file": "input_surface.bin", "shape": list(sf.shape)}],
        "outputs": [{"name": "output", "file": "onnx_upper.bin", "shape": list(up.shape)},
                    {"name": "output_surface", "file": "onnx_surface.bin", "shape": list(sf.shape)}],
        "upper_std": m.upper_std.numpy().tolist(),
        "surface_std": m.surface_std.numpy().tolist(),
        "fingerprint": key,
    }
    if a.reference:
        t0 = time.perf_counter()
        ou, osf = m(up_t, sf_t)
        t1 = time.perf_counter()
        ou.numpy().astype(np.float32).tofile(os.path.join(a.out, "torch_upper.bin"))
        osf.numpy().astype(np.float32).tofile(os.path.join(a.out, "torch_surface.bin"))
        print(f"torch reference forward: {t1 - t0:.1f} s", flush=True)
    with open(os.path.join(a.out, "io.json"), "w") as f:
        json.dump(io, f, indent=1)
    return 0


def compare(a):
    with open(os.path.join(a.dir, "io.json")) as f:
        io = json.load(f)
    shp_u, shp_s = io["outputs"][0]["shape"], io["outputs"][1]["shape"]
    got_u = np.fromfile(os.path.join(a.dir, io["outputs"][0]["file"]), np.float32).reshape(shp_u)
    got_s = np.fromfile(os.path.join(a.dir, io["outputs"][1]["file"]), np.float32).reshape(shp_s)
    if a.ref == "torch":
        ref_u = np.fromfile(os.path.join(a.dir, "torch_upper.bin"), np.float32).reshape(shp_u)
        ref_s = np.fromfile(os.path.join(a.dir, "torch_surface.bin"), np.float32).reshape(shp_s)
        name = "torch"
    else:
        P = import_ref()
        ref_u, ref_s, _ = P.read_state(a.ref)
        name = os.path.basename(a.ref)
        if ref_u.shape != got_u.shape or ref_s.shape != got_s.shape:
            print(f"compare: shapes differ: {ref_u.shape} {ref_s.shape} vs {got_u.shape} {got_s.shape}")
            print("MAXDIFF nan")
            return 1
    us = np.asarray(io["upper_std"], np.float64)[:, :, None, None]
    ss = np.asarray(io["surface_std"], np.float64)[:, None, None]
    du = float(np.max(np.abs(got_u.astype(np.float64) - ref_u) / us))
    ds = float(np.max(np.abs(got_s.astype(np.float64) - ref_s) / ss))
    finite = bool(np.isfinite(got_u).all() and np.isfinite(got_s).all())
    print(f"max |onnx - {name}| / std: upper {du:.2e}, surface {ds:.2e}" + ("" if finite else " (NON-FINITE output)"))
    worst = max(du, ds) if finite else float("nan")
    print(f"MAXDIFF {worst:.2e}")
    if a.fail_above is not None and not worst <= a.fail_above:
        print(f"compare: above tolerance {a.fail_above:g}")
        return 1
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("export")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--state", default=None)
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--reference", action="store_true", help="also write the PyTorch forward's output")
    p.add_argument("--external-data", action="store_true",
                   help="export even past 2 GiB of constants (torch then writes them as external data files)")
    p.add_argument("--reuse", action="store_true",
                   help="keep DIR's export if it was made from the same model, state and options")
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    p = sub.add_parser("compare")
    p.add_argument("dir")
    p.add_argument("--ref", default="torch")
    p.add_argument("--fail-above", type=float, default=None)
    a = ap.parse_args(argv)
    return export(a) if a.cmd == "export" else compare(a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
