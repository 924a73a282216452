#!/usr/bin/env bash
# Retrain every checkpoint shipped in checkpoints/ (sequentially: 2 cores, one run at a time).
#   scripts/train_shipped.sh MNIST_ROOT FASHION_ROOT [EPOCHS]
# MNIST_ROOT holds MNIST/raw/, FASHION_ROOT holds FashionMNIST/raw/ (torchvision layout).
# ONLY=NAME retrains just checkpoints/NAME.safetensors (e.g. ONLY=mnist-raw-z20-on-sigmoid-encoder).
set -euo pipefail
mnist_root=${1:?usage: $0 MNIST_ROOT FASHION_ROOT [EPOCHS]}
fashion_root=${2:?usage: $0 MNIST_ROOT FASHION_ROOT [EPOCHS]}
epochs=${3:-10}
py=${PYTHON:-.venv/bin/python}
only=${ONLY:-}
train() {  # name dataset root head latent [more vae.train args]
  local name=$1 dataset=$2 root=$3 head=$4 latent=$5
  shift 5
  if [[ -n "$only" && "$only" != "$name" ]]; then return 0; fi
  "$py" -m vae.train --dataset "$dataset" --data-dir "$root" --head "$head" --latent "$latent" \
    --epochs "$epochs" --no-download --force --out "checkpoints/$name.safetensors" "$@"
}
run() {  # dataset root head latent: a whole VAE, trained from scratch
  train "$1-$3-z$4" "$@"
}
pair() {  # dataset root head latent: only a decoder, on the frozen encoder of DATASET-sigmoid-zLATENT
  # (same latent space as the sigmoid VAE: the same z means the same digit for both)
  train "$1-$3-z$4-on-sigmoid-encoder" "$@" --encoder-from "checkpoints/$1-sigmoid-z$4.safetensors"
}
for head in sigmoid raw logits continuous-bernoulli clamp; do run mnist "$mnist_root" "$head" 20; done
for head in sigmoid raw; do run mnist "$mnist_root" "$head" 2; done
for head in sigmoid raw; do run fashion-mnist "$fashion_root" "$head" 20; done
# after the sigmoid VAEs whose encoders they freeze
for head in raw logits continuous-bernoulli clamp; do pair mnist "$mnist_root" "$head" 20; done
pair mnist "$mnist_root" raw 2
pair fashion-mnist "$fashion_root" raw 20
