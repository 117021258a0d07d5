"""The torchvision side of `npm run bench -- vs-torchvision` (a reference, never an emseg dependency).

Builds torchvision's Mask R-CNN or Faster R-CNN with a ResNet-18 FPN backbone and random weights
(no download), at the architecture the emseg side is configured to (see bench/vs-torchvision.bench.ts),
and times inference on the same image, or one training step, with the given thread count.
Prints one JSON object. Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision,
libopenblas0-pthread).
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
import torchvision
from torchvision.models.detection import FasterRCNN, MaskRCNN
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone


def build(task: str, size: int) -> torch.nn.Module:
    # trainable_layers=5: every stage trainable (the emseg side trains all of its backbone too).
    backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5)
    common = dict(
        num_classes=2,
        min_size=size,
        max_size=size,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.25, 0.25, 0.25],
        rpn_pre_nms_top_n_test=1000,
        rpn_post_nms_top_n_test=1000,
        box_detections_per_img=100,
    )
    return MaskRCNN(backbone, **common) if task == "maskrcnn" else FasterRCNN(backbone, **common)


def matmul_peak(threads: int) -> float:
    """fp32 GFLOP/s of a 2048^3 matmul (OpenBLAS through torch), best of 5."""
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * 2048**3 / best / 1e9


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--task", choices=["maskrcnn", "fasterrcnn"], required=True)
    p.add_argument("--mode", choices=["inference", "train-step"], default="inference")
    p.add_argument("--image", help="raw float32 grey image in [0, 1], row-major (inference)")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = build(a.task, a.size)
    out = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "threads": torch.get_num_threads(),
        "matmulGflops": round(matmul_peak(a.threads), 1),
    }
    times = []
    if a.mode == "inference":
        grey = np.fromfile(a.image, dtype=np.float32).reshape(a.size, a.size)
        img = torch.from_numpy(grey).expand(3, a.size, a.size).contiguous()
        model.eval()
        with torch.inference_mode():
            result = model([img])[0]  # warm-up
            for _ in range(a.runs):
                t = time.perf_counter()
                result = model([img])[0]
                times.append(time.perf_counter() - t)
        out["detections"] = int(result["boxes"].shape[0])
    else:
        # One SGD step on a 512^2 image with 20 boxes (and masks), as detectron2 / torchvision train.
        model.train()
        g = torch.Generator().manual_seed(0)
        img = torch.rand(3, a.size, a.size, generator=g)
        xy = torch.rand(20, 2, generator=g) * (a.size - 80)
        wh = 16 + torch.rand(20, 2, generator=g) * 60
        boxes = torch.cat([xy, xy + wh], 1)
        target = {"boxes": boxes, "labels": torch.ones(20, dtype=torch.int64)}
        if a.task == "maskrcnn":
            masks = torch.zeros(20, a.size, a.size, dtype=torch.uint8)
            for i, (x0, y0, x1, y1) in enumerate(boxes.round().int().tolist()):
                masks[i, y0:y1, x0:x1] = 1
            target["masks"] = masks
        opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
        for i in range(a.runs + 1):
            t = time.perf_counter()
            losses = model([img], [target])
            loss = sum(losses.values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i > 0:  # the first step is a warm-up
                times.append(time.perf_counter() - t)
    out["medianSeconds"] = statistics.median(times)
    out["seconds"] = [round(t, 4) for t in times]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
