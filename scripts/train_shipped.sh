#!/usr/bin/env bash
# Retrain every checkpoint shipped in checkpoints/ (sequentially: 2 cores, one run at a time).
#   scripts/train_shipped.sh MNIST_ROOT FASHION_ROOT [EPOCHS]
# MNIST_ROOT holds MNIST/raw/, FASHION_ROOT holds FashionMNIST/raw/ (torchvision layout).
set -euo pipefail
mnist_root=${1:?usage: $0 MNIST_ROOT FASHION_ROOT [EPOCHS]}
fashion_root=${2:?usage: $0 MNIST_ROOT FASHION_ROOT [EPOCHS]}
epochs=${3:-10}
py=${PYTHON:-.venv/bin/python}
run() {  # dataset root head latent
  "$py" -m vae.train --dataset "$1" --data-dir "$2" --head "$3" --latent "$4" --epochs "$epochs" \
    --no-download --out "checkpoints/$1-$3-z$4.safetensors"
}
for head in sigmoid raw logits continuous-bernoulli clamp; do run mnist "$mnist_root" "$head" 20; done
for head in sigmoid raw; do run mnist "$mnist_root" "$head" 2; done
for head in sigmoid raw; do run fashion-mnist "$fashion_root" "$head" 20; done
