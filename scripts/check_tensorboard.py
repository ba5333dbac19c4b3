#!/usr/bin/env python3
"""Reads a ganforge run's TensorBoard events with TensorBoard's own reader.

    pip install tensorboard
    python3 scripts/check_tensorboard.py TB_DIR/RUN_NAME [--steps N]

Prints every scalar tag with its number of points, first and last step, and every image tag with
its steps and sizes. Exits non-zero when a tag has a step twice (a resumed run's restart was not
honoured), when no losses or no figures were found, or, with --steps, when a loss tag does not
hold exactly the steps 1..N.
"""
import argparse
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run", help="the folder of one run's event files")
    parser.add_argument("--steps", type=int, help="the run's last step")
    args = parser.parse_args()
    acc = EventAccumulator(args.run, size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    ok = True
    if not tags["scalars"]:
        print("no scalars")
        sys.exit(1)
    for tag in sorted(tags["scalars"]):
        steps = [e.step for e in acc.Scalars(tag)]
        print(f"{tag}: {len(steps)} points, steps {steps[0]}..{steps[-1]}")
        if len(set(steps)) != len(steps):
            print(f"  {tag} has repeated steps")
            ok = False
        is_loss = tag in ("train/d_loss", "train/d_a")
        if args.steps and is_loss and sorted(steps) != list(range(1, args.steps + 1)):
            print(f"  {tag} does not hold exactly the steps 1..{args.steps}")
            ok = False
    if not tags["images"]:
        print("no images")
        ok = False
    for tag in tags["images"]:
        images = acc.Images(tag)
        shown = ", ".join(f"{e.step} ({e.width}×{e.height})" for e in images)
        print(f"{tag}: {len(images)} figures at steps {shown}")
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
