#!/usr/bin/env bash
# Re-run the sweep shipped in results/ (python -m vae.sweep; see its docstring for the JSON schema).
#   scripts/sweep_shipped.sh MNIST_ROOT [JOBS]
# MNIST_ROOT holds MNIST/raw/ (torchvision layout). One invocation per head, each adding to the
# same file: stop it at any point and run it again, finished runs are kept and not repeated.
set -euo pipefail
mnist_root=${1:?usage: $0 MNIST_ROOT [JOBS]}
jobs=${2:-2}
py=${PYTHON:-.venv/bin/python}
grid=(--lrs 1e-4,3e-4,1e-3,3e-3,1e-2,3e-2 --seeds 1,2,3 --epochs 10 --dataset mnist --latent 20
      --jobs "$jobs" --data-dir "$mnist_root")
for head in sigmoid raw logits clamp continuous-bernoulli; do
  "$py" -m vae.sweep --heads "$head" "${grid[@]}" --out results/sweep-mnist-z20.json
done
# decoders only, on the shipped sigmoid VAE's frozen encoder
for head in sigmoid raw; do
  "$py" -m vae.sweep --heads "$head" "${grid[@]}" --encoder-from checkpoints/mnist-sigmoid-z20.safetensors \
    --out results/sweep-mnist-z20-decoder-only.json
done
